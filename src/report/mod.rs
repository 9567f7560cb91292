//! Reporters: the same list of diagnostics as human text, JSON, JUnit XML
//! or a GitLab Code Quality report (pure: data in, text out).

pub mod codequality;
pub mod escape;
pub mod human;
pub mod json;
pub mod junit;

use crate::diag::Subject;

/// What a lint run covered, for summaries and for JUnit's passing cases.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Every stream × environment checked, with the file defining the stream.
    pub cases: Vec<(Subject, String)>,
    pub environments: Vec<String>,
    pub files: usize,
}
