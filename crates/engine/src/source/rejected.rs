//! The names a listing leaves out because they cannot be read, shared by the local and the
//! S3 listers and named by the scan.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Objects and folders left out of listings because their names cannot be read (a control
/// character, not UTF-8, a link out of the tree): key or path -> why. The scan names them.
pub type RejectedNames = Arc<std::sync::Mutex<BTreeMap<String, String>>>;
