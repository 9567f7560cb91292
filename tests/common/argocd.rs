//! Argo CD's health check test tables (`health_test.yaml` and its
//! `testdata/`), as copied under `tests/fixtures/argocd-*`.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct Table {
    pub tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub health_status: Status,
    pub input_path: String,
}

#[derive(Deserialize)]
pub struct Status {
    pub status: String,
    #[serde(default)]
    pub message: String,
}

/// The fixture folder of one resource's health check.
pub fn folder(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The folder's `health_test.yaml`.
pub fn table(folder: &str) -> Table {
    let path = format!("{folder}/health_test.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One of the table's inputs.
pub fn load(folder: &str, input_path: &str) -> Value {
    let path = format!("{folder}/{input_path}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
