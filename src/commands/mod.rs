//! One module per subcommand: its arguments and how it runs.

pub mod down;
pub mod forward_daemon;
pub mod load;
pub mod slam;
pub mod status;
pub mod up;
pub mod verify;
pub mod worker;
