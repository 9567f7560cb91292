//! Build script (pure, no output of its own): tells the tests whether the
//! upstream reference data beside the checkout is there, so that a test
//! needing it is reported as ignored, not passed, when it is not.

use std::path::Path;

fn main() {
    for (cfg, path) in [
        (
            "sluice_no_upstream_crds",
            "../shared/crds/sparkoperator.k8s.io_sparkapplications.yaml",
        ),
        (
            "sluice_no_upstream_examples",
            "../shared/upstream/spark-operator-examples",
        ),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-changed={path}");
        if !Path::new(path).exists() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
}
