//! How a job's render settings split into tasks, and a task's region into cells (docs/job-model.md).
//!
//! - Tasks = `frame_count × regions_x × regions_y`. Task `t` renders frame
//!   `frame_start + t / (regions_x · regions_y)` and region `r = t % (regions_x · regions_y)`, which is
//!   column `r % regions_x`, row `r / regions_x` of the region grid.
//! - Region column `i` spans pixels `[⌊width·i/regions_x⌋, ⌊width·(i+1)/regions_x⌋)`, rows likewise.
//! - A region is cut into `cell_size × cell_size` cells, row-major from its top-left corner; the last column
//!   and row of cells are clipped to the region. Cell indices start at 0 in each task.

/// Render settings of a job, as posted on-chain (`IDistributedRender.RenderSettings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenderSettings {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Samples per pixel.
    pub samples_per_pixel: u32,
    /// Path length limit (bounces after the camera ray).
    pub max_bounces: u32,
    /// First frame number.
    pub frame_start: u32,
    /// Number of frames.
    pub frame_count: u32,
    /// Region grid columns.
    pub regions_x: u32,
    /// Region grid rows.
    pub regions_y: u32,
    /// Cell side in pixels (a power of two, 4..=256).
    pub cell_size: u32,
    /// Seed of the sampler.
    pub seed: u64,
}

/// A pixel rectangle in image coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// Number of pixels.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// One task: a frame and a region of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Task {
    /// Index within the job.
    pub index: u64,
    /// Frame number (`frame_start` + offset).
    pub frame: u32,
    /// Pixels to render.
    pub region: Rect,
}

/// Settings that cannot describe a job, or a task index outside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// A field is zero or out of range.
    #[error("render setting {field} = {value} is invalid: {reason}")]
    InvalidSetting {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The task index is not below the task count.
    #[error("task {index} is out of range: the job has {count} tasks")]
    TaskOutOfRange {
        /// The index asked for.
        index: u64,
        /// The job's task count.
        count: u64,
    },
}

/// Largest image side, as in the contract.
pub const MAX_DIMENSION: u32 = 16_384;
/// Largest task count, as in the contract.
pub const MAX_TASKS: u64 = 1_000_000;
/// Most path segments of one cell (samples per pixel × (bounces + 1) × cell pixels), as in the contract
/// (`MAX_CELL_WORK`): a committee member re-renders 64 cells, so its check is bounded to 2^34 segments.
pub const MAX_CELL_WORK: u64 = 1 << 28;
/// Most bounces of a path, as in the contract (`MAX_BOUNCES`).
pub const MAX_BOUNCES: u32 = 64;

impl RenderSettings {
    /// Checks the same rules as `DistributedRender.submitRenderJob`.
    pub fn validate(&self) -> Result<(), LayoutError> {
        let bad = |field, value: u32, reason| {
            Err(LayoutError::InvalidSetting {
                field,
                value: u64::from(value),
                reason,
            })
        };
        if self.width == 0 || self.width > MAX_DIMENSION {
            return bad("width", self.width, "must be 1..=16384");
        }
        if self.height == 0 || self.height > MAX_DIMENSION {
            return bad("height", self.height, "must be 1..=16384");
        }
        if self.samples_per_pixel == 0 {
            return bad("samples_per_pixel", 0, "must be at least 1");
        }
        if self.frame_count == 0 {
            return bad("frame_count", 0, "must be at least 1");
        }
        if self.regions_x == 0 || self.regions_x > self.width {
            return bad("regions_x", self.regions_x, "must be 1..=width");
        }
        if self.regions_y == 0 || self.regions_y > self.height {
            return bad("regions_y", self.regions_y, "must be 1..=height");
        }
        if !(4..=256).contains(&self.cell_size) || !self.cell_size.is_power_of_two() {
            return bad(
                "cell_size",
                self.cell_size,
                "must be a power of two in 4..=256",
            );
        }
        if self.max_bounces > MAX_BOUNCES {
            return bad("max_bounces", self.max_bounces, "must be at most 64");
        }
        let cell_work = u64::from(self.samples_per_pixel)
            * (u64::from(self.max_bounces) + 1)
            * u64::from(self.cell_size).pow(2);
        if cell_work > MAX_CELL_WORK {
            return bad(
                "samples_per_pixel",
                self.samples_per_pixel,
                "x (max_bounces + 1) x the cell's pixels must be at most 2^28 (a committee member re-renders \
                 64 cells)",
            );
        }
        let count = self.task_count();
        if count > MAX_TASKS {
            return Err(LayoutError::InvalidSetting {
                field: "task_count",
                value: count,
                reason: "frames x regions must be at most 1,000,000",
            });
        }
        Ok(())
    }

    /// Regions per frame.
    pub fn regions(&self) -> u64 {
        u64::from(self.regions_x) * u64::from(self.regions_y)
    }

    /// Tasks in the job.
    pub fn task_count(&self) -> u64 {
        u64::from(self.frame_count) * self.regions()
    }

    /// The pixels of region `r` (row-major in the region grid). `r` must be below `regions()`.
    pub fn region(&self, r: u64) -> Rect {
        let rx = r % u64::from(self.regions_x);
        let ry = r / u64::from(self.regions_x);
        let span = |size: u32, parts: u32, i: u64| -> (u32, u32) {
            let at = |k: u64| -> u32 {
                // size * k / parts <= size, which fits u32.
                u32::try_from(u64::from(size) * k / u64::from(parts)).unwrap_or(size)
            };
            let start = at(i);
            (start, at(i + 1) - start)
        };
        let (x, width) = span(self.width, self.regions_x, rx);
        let (y, height) = span(self.height, self.regions_y, ry);
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// Task `index`: its frame and region.
    pub fn task(&self, index: u64) -> Result<Task, LayoutError> {
        let count = self.task_count();
        if index >= count {
            return Err(LayoutError::TaskOutOfRange { index, count });
        }
        let frame_offset = u32::try_from(index / self.regions())
            .map_err(|_| LayoutError::TaskOutOfRange { index, count })?;
        Ok(Task {
            index,
            frame: self.frame_start.saturating_add(frame_offset),
            region: self.region(index % self.regions()),
        })
    }

    /// The whole image as one rectangle.
    pub fn full_frame(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: self.width,
            height: self.height,
        }
    }
}

/// Number of cells of `region` (columns, rows).
pub fn cell_grid(region: Rect, cell_size: u32) -> (u32, u32) {
    (
        region.width.div_ceil(cell_size),
        region.height.div_ceil(cell_size),
    )
}

/// The cells of `region`, row-major, clipped to it.
pub fn cells(region: Rect, cell_size: u32) -> impl Iterator<Item = Rect> {
    let (cols, rows) = cell_grid(region, cell_size);
    (0..rows).flat_map(move |row| {
        (0..cols).map(move |col| {
            let x = col * cell_size;
            let y = row * cell_size;
            Rect {
                x: region.x + x,
                y: region.y + y,
                width: cell_size.min(region.width - x),
                height: cell_size.min(region.height - y),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(w: u32, h: u32, frames: u32, rx: u32, ry: u32, cell: u32) -> RenderSettings {
        RenderSettings {
            width: w,
            height: h,
            samples_per_pixel: 4,
            max_bounces: 4,
            frame_start: 10,
            frame_count: frames,
            regions_x: rx,
            regions_y: ry,
            cell_size: cell,
            seed: 1,
        }
    }

    #[test]
    fn regions_tile_the_frame_exactly() {
        for (w, h, rx, ry) in [
            (640, 360, 3, 2),
            (7, 5, 7, 5),
            (1920, 1080, 4, 4),
            (100, 1, 3, 1),
        ] {
            let s = settings(w, h, 1, rx, ry, 16);
            s.validate().expect("valid");
            let mut covered = vec![0u8; (w * h) as usize];
            for r in 0..s.regions() {
                let rect = s.region(r);
                assert!(rect.width > 0 && rect.height > 0, "{rect:?}");
                for y in rect.y..rect.y + rect.height {
                    for x in rect.x..rect.x + rect.width {
                        covered[(y * w + x) as usize] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "{w}x{h} {rx}x{ry}");
        }
    }

    #[test]
    fn task_maps_to_frame_and_region() {
        let s = settings(640, 360, 3, 2, 2, 32);
        assert_eq!(s.task_count(), 12);
        let t = s.task(7).expect("in range");
        assert_eq!(t.frame, 11);
        assert_eq!(
            t.region,
            Rect {
                x: 320,
                y: 180,
                width: 320,
                height: 180
            }
        );
        assert_eq!(
            s.task(12),
            Err(LayoutError::TaskOutOfRange {
                index: 12,
                count: 12
            })
        );
    }

    #[test]
    fn cells_cover_a_region_row_major_and_clip_edges() {
        let region = Rect {
            x: 100,
            y: 50,
            width: 70,
            height: 33,
        };
        let all: Vec<_> = cells(region, 32).collect();
        assert_eq!(cell_grid(region, 32), (3, 2));
        assert_eq!(all.len(), 6);
        assert_eq!(
            all[0],
            Rect {
                x: 100,
                y: 50,
                width: 32,
                height: 32
            }
        );
        assert_eq!(
            all[2],
            Rect {
                x: 164,
                y: 50,
                width: 6,
                height: 32
            }
        );
        assert_eq!(
            all[5],
            Rect {
                x: 164,
                y: 82,
                width: 6,
                height: 1
            }
        );
        assert_eq!(all.iter().map(Rect::area).sum::<u64>(), region.area());
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = settings(640, 360, 1, 1, 1, 24);
        let err = s.validate().expect_err("cell size 24");
        assert!(err.to_string().contains("cell_size = 24"), "{err}");
        s.cell_size = 16;
        s.regions_x = 641;
        assert!(
            s.validate()
                .expect_err("regions")
                .to_string()
                .contains("regions_x")
        );
        s.regions_x = 1;
        s.frame_count = 1001;
        s.height = 1000;
        s.regions_y = 1000;
        assert!(
            s.validate()
                .expect_err("tasks")
                .to_string()
                .contains("task_count")
        );
    }

    #[test]
    fn a_cells_work_and_the_bounces_are_bounded() {
        // 2^28 path segments of a cell: 65,536 spp at 32 px cells and 3 bounces, 256 spp at 256 px and 15.
        let mut s = settings(640, 360, 1, 1, 1, 32);
        s.max_bounces = 3;
        s.samples_per_pixel = 65_536;
        s.validate().expect("at the bound");
        s.samples_per_pixel = 65_537;
        let err = s.validate().expect_err("above").to_string();
        assert!(
            err.contains("samples_per_pixel = 65537") && err.contains("2^28"),
            "{err}"
        );
        s.samples_per_pixel = 256;
        s.max_bounces = 15;
        s.cell_size = 256;
        s.validate().expect("at the bound");
        s.max_bounces = 16;
        assert!(s.validate().is_err(), "one bounce more");
        s.samples_per_pixel = u32::MAX;
        s.max_bounces = 64;
        assert!(s.validate().is_err(), "no overflow");
        s.samples_per_pixel = 1;
        s.cell_size = 4;
        s.validate().expect("64 bounces");
        s.max_bounces = 65;
        let err = s.validate().expect_err("bounces").to_string();
        assert!(err.contains("max_bounces = 65"), "{err}");
    }
}
