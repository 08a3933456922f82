//! Writes the generated test scenes as `.glb` files into a folder: `cargo run --example write_scenes DIR`.

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("cornell.glb"),
        tessera_render::testscenes::cornell_box(),
    )?;
    std::fs::write(
        dir.join("furnace.glb"),
        tessera_render::testscenes::furnace_sphere(),
    )?;
    std::fs::write(
        dir.join("floor.glb"),
        tessera_render::testscenes::lit_floor(0.5, None),
    )?;
    std::fs::write(
        dir.join("features.glb"),
        tessera_render::testscenes::features(),
    )?;
    println!(
        "wrote cornell.glb, furnace.glb, floor.glb, features.glb to {}",
        dir.display()
    );
    Ok(())
}
