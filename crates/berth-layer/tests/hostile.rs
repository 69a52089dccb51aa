//! berth-rootfs' hostile corpus through layer application, on both resolution strategies.

use berth_layer::{TarOptions, apply_layer, from_dir, write_tar};
use berth_rootfs::testing::{
    SECRET, Scene, on_both_strategies, race, race_planted, raw_tar, run_corpus,
};
use tar::EntryType;

#[test]
fn hostile_corpus_through_layer_apply() {
    on_both_strategies("hostile_corpus_through_layer_apply", || {
        run_corpus("layer apply", |scene, case| {
            let _ = apply_layer((case.tar)(scene).as_slice(), &scene.root);
        });
    });
}

#[test]
fn race_through_layer_apply() {
    on_both_strategies("race_through_layer_apply", || {
        race("layer apply", 300, |scene, i| {
            let name = format!("d/sub{i}/f");
            let tar = raw_tar(&[
                (&name, EntryType::Regular, "", b"x"),
                ("d/secret", EntryType::Regular, "", b"evil"),
                ("d/.wh.secret", EntryType::Regular, "", b""),
            ]);
            let _ = apply_layer(tar.as_slice(), &scene.root);
        });
    });
}

/// The read side: a tree is walked into entries while its `d` is a directory holding
/// `secret` at one moment and a symlink to the outside (holding a `secret` of the same
/// size) at the next; whatever writing the layer answers, the outside bytes are never in it.
#[test]
fn race_reading_a_tree_into_a_layer() {
    on_both_strategies("race_reading_a_tree_into_a_layer", || {
        let plant = |scene: &Scene| {
            let inside = vec![b'i'; SECRET.len()];
            std::fs::write(scene.root.join("d/secret"), inside).unwrap();
        };
        race_planted("layer from a tree", 300, plant, |scene, _| {
            let Ok(entries) = from_dir(&scene.root) else {
                return;
            };
            if let Ok((tar, _)) = write_tar(&entries, &TarOptions::default(), Vec::new()) {
                assert!(
                    !tar.windows(SECRET.len()).any(|w| w == SECRET),
                    "read outside the tree"
                );
            }
        });
    });
}
