use std::process::ExitCode;

/// How a command ended, as CI reads it from the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything ran and every threshold or check passed.
    Passed,
    /// The run completed but a threshold or check failed.
    ChecksFailed,
    /// The tool or its surroundings broke: bad input, nothing could be measured.
    ToolFailed,
    /// Stopped by Ctrl-C; whatever was measured was still reported.
    Interrupted,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::ChecksFailed => 1,
            Outcome::ToolFailed => 2,
            Outcome::Interrupted => 130,
        }
    }

    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}
