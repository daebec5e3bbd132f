//! A child process that is killed and reaped when dropped, also when the
//! test fails, so no peer or load generator outlives its test.

use std::ops::{Deref, DerefMut};
use std::process::Child;

/// Kills and reaps the child on drop; derefs to the [`Child`].
pub struct KillOnDrop(pub Child);

impl Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
