//! berth-rootfs' hostile corpus through layer application, on both resolution strategies.

use berth_layer::apply_layer;
use berth_rootfs::testing::{on_both_strategies, race, raw_tar, run_corpus};
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
