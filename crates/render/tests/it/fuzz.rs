//! Bounded fuzzing of the loader: mutated and truncated scenes never panic and never allocate without
//! bound (the limits keep every case small). `PROPTEST_CASES` raises the case count for longer runs.

use proptest::prelude::*;
use tessera_render::testscenes;
use tessera_render::{Limits, LoadOptions, load_glb};

fn opts() -> LoadOptions {
    LoadOptions {
        limits: Limits {
            max_triangles: 200_000,
            max_vertices: 600_000,
            max_total_texels: 4 << 20,
            ..Limits::default()
        },
        ..LoadOptions::default()
    }
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        testscenes::cornell_box(),
        testscenes::animated_cube(),
        testscenes::lit_floor(0.5, None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenes_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let mut bytes = seeds().swap_remove(which);
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        if let Some(c) = cut {
            bytes.truncate(c % (bytes.len() + 1));
        }
        // Either outcome is fine; a panic fails the test.
        let _ = load_glb(&bytes, &opts());
    }

    #[test]
    fn mutated_json_never_panics(which in 0usize..3, at in any::<usize>(), digit in b'0'..=b'9') {
        // Mutate digits inside the JSON chunk: counts, offsets, indices, sizes.
        let mut bytes = seeds().swap_remove(which);
        let n = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let digits: Vec<usize> = (20..20 + n).filter(|&i| bytes[i].is_ascii_digit()).collect();
        let i = digits[at % digits.len()];
        bytes[i] = digit;
        let _ = load_glb(&bytes, &opts());
    }
}
