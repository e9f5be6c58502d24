//! Turns the classic builder's JSON stream into [`BuildEvent`]s and remembers what a failure
//! report needs: the step that was running and the last lines it printed.

use std::collections::VecDeque;

use bollard::models::BuildInfo;

use super::BuildEvent;

/// How many output lines of the failing step an error keeps.
const TAIL_LINES: usize = 10;

#[derive(Debug, Default)]
pub struct BuildLog {
    /// `stream` chunks split lines anywhere; the unfinished line waits here.
    partial: String,
    step: Option<String>,
    tail: VecDeque<String>,
    image_id: Option<String>,
    error: Option<String>,
}

/// How a build stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum BuildOutcome {
    /// The image id, when the stream named one.
    Built(Option<String>),
    Failed {
        step: Option<String>,
        message: String,
        output: Vec<String>,
    },
}

impl BuildLog {
    /// Takes one message of the stream and says what it means.
    pub fn feed(&mut self, info: &BuildInfo) -> Vec<BuildEvent> {
        let mut events = Vec::new();
        if let Some(chunk) = &info.stream {
            self.partial.push_str(chunk);
            while let Some(end) = self.partial.find('\n') {
                let line: String = self.partial.drain(..=end).collect();
                events.extend(self.line(&line));
            }
        }
        if let Some(status) = &info.status {
            // A base-image pull inside the build; progress ticks would only flood the output.
            let ticking = info
                .progress_detail
                .as_ref()
                .is_some_and(|detail| detail.current.is_some());
            if !ticking {
                let line = match &info.id {
                    Some(id) => format!("{id}: {status}"),
                    None => status.clone(),
                };
                events.push(BuildEvent::Output(line));
            }
        }
        if let Some(id) = info.aux.as_ref().and_then(|aux| aux.id.clone()) {
            self.image_id = Some(id);
        }
        if let Some(message) = info
            .error_detail
            .as_ref()
            .and_then(|detail| detail.message.clone())
        {
            self.fail(message);
        }
        events
    }

    /// An error the stream reported; the first one is the cause, later ones are echoes.
    pub fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    /// Call when the stream has ended: flushes a last line without newline and says how it went.
    pub fn finish(mut self) -> (Vec<BuildEvent>, BuildOutcome) {
        let rest = std::mem::take(&mut self.partial);
        let events = self.line(&rest).into_iter().collect();
        let outcome = match self.error {
            Some(message) => BuildOutcome::Failed {
                step: self.step,
                message,
                output: self.tail.into(),
            },
            None => BuildOutcome::Built(self.image_id),
        };
        (events, outcome)
    }

    fn line(&mut self, raw: &str) -> Option<BuildEvent> {
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            return None;
        }
        if let Some((number, total, instruction)) = parse_step(line) {
            self.step = Some(line.to_string());
            self.tail.clear();
            return Some(BuildEvent::Step {
                number,
                total,
                instruction,
            });
        }
        if let Some(short_id) = line.strip_prefix("Successfully built ") {
            self.image_id
                .get_or_insert_with(|| short_id.trim().to_string());
        }
        if !is_bookkeeping(line) {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(line.to_string());
        }
        Some(BuildEvent::Output(line.to_string()))
    }
}

/// "Step 2/5 : RUN apt-get update" → (2, 5, "RUN apt-get update").
pub fn parse_step(line: &str) -> Option<(u32, u32, String)> {
    let (counter, instruction) = line.strip_prefix("Step ")?.split_once(" : ")?;
    let (number, total) = counter.split_once('/')?;
    Some((
        number.parse().ok()?,
        total.parse().ok()?,
        instruction.trim().to_string(),
    ))
}

/// The builder's own progress lines say nothing about why a step failed.
fn is_bookkeeping(line: &str) -> bool {
    line.starts_with(" ---> ") || line.starts_with("Removing intermediate container ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds raw stream lines as the Engine API sends them.
    fn run(lines: &[&str]) -> (Vec<BuildEvent>, BuildOutcome) {
        let mut log = BuildLog::default();
        let mut events = Vec::new();
        for line in lines {
            let info: BuildInfo = serde_json::from_str(line).expect("a stream line");
            events.extend(log.feed(&info));
        }
        let (rest, outcome) = log.finish();
        events.extend(rest);
        (events, outcome)
    }

    #[test]
    fn step_lines_parse() {
        assert_eq!(
            parse_step("Step 2/5 : RUN apt-get update"),
            Some((2, 5, "RUN apt-get update".into()))
        );
        assert_eq!(
            parse_step("Step 10/12 : COPY . /ctx"),
            Some((10, 12, "COPY . /ctx".into()))
        );
        assert_eq!(parse_step("Step x/5 : RUN"), None);
        assert_eq!(parse_step(" ---> Running in 3f2a"), None);
    }

    #[test]
    fn a_successful_build_reports_steps_output_and_the_id() {
        let (events, outcome) = run(&[
            r#"{"stream":"Step 1/2 : FROM scratch\n"}"#,
            r#"{"stream":" ---\u003e \n"}"#,
            r#"{"stream":"Step 2/2 : COPY hello.txt /\n"}"#,
            r#"{"stream":" ---\u003e 5d1c2e3f4a5b\n"}"#,
            r#"{"aux":{"ID":"sha256:5d1c2e3f4a5b6c7d8e9f"}}"#,
            r#"{"stream":"Successfully built 5d1c2e3f4a5b\n"}"#,
            r#"{"stream":"Successfully tagged thidctl/test:dev\n"}"#,
        ]);
        assert_eq!(
            events[0],
            BuildEvent::Step {
                number: 1,
                total: 2,
                instruction: "FROM scratch".into()
            }
        );
        assert!(events.contains(&BuildEvent::Step {
            number: 2,
            total: 2,
            instruction: "COPY hello.txt /".into()
        }));
        assert!(events.contains(&BuildEvent::Output(
            "Successfully tagged thidctl/test:dev".into()
        )));
        assert_eq!(
            outcome,
            BuildOutcome::Built(Some("sha256:5d1c2e3f4a5b6c7d8e9f".into()))
        );
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let (events, _) = run(&[
            r#"{"stream":"Step 1/1 : RUN echo\n"}"#,
            r#"{"stream":"hel"}"#,
            r#"{"stream":"lo\nwor"}"#,
            r#"{"stream":"ld"}"#,
        ]);
        assert_eq!(
            &events[1..],
            [
                BuildEvent::Output("hello".into()),
                BuildEvent::Output("world".into())
            ]
        );
    }

    #[test]
    fn a_failed_step_keeps_the_step_and_its_output() {
        let (_, outcome) = run(&[
            r#"{"stream":"Step 1/3 : FROM 127.0.0.1:5000/debian:bookworm\n"}"#,
            r#"{"stream":" ---\u003e 0a1b2c3d4e5f\n"}"#,
            r#"{"stream":"Step 2/3 : RUN echo about to fail \u0026\u0026 false\n"}"#,
            r#"{"stream":" ---\u003e Running in 9f8e7d6c5b4a\n"}"#,
            r#"{"stream":"about to fail\n"}"#,
            r#"{"errorDetail":{"code":1,"message":"The command '/bin/sh -c echo about to fail \u0026\u0026 false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c echo about to fail \u0026\u0026 false' returned a non-zero code: 1"}"#,
        ]);
        assert_eq!(
            outcome,
            BuildOutcome::Failed {
                step: Some("Step 2/3 : RUN echo about to fail && false".into()),
                message: "The command '/bin/sh -c echo about to fail && false' returned a non-zero code: 1".into(),
                output: vec!["about to fail".into()],
            }
        );
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let mut lines = vec![r#"{"stream":"Step 1/1 : RUN seq 25\n"}"#.to_string()];
        lines.extend((1..=25).map(|n| format!(r#"{{"stream":"{n}\n"}}"#)));
        lines.push(r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#.into());
        let (_, outcome) = run(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let BuildOutcome::Failed { output, .. } = outcome else {
            panic!("the build failed")
        };
        assert_eq!(output, (16..=25).map(|n| n.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn pull_progress_is_quiet_but_pull_status_shows() {
        let (events, _) = run(&[
            r#"{"status":"Pulling from debian","id":"bookworm"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":100,"total":1000},"id":"a1b2"}"#,
            r#"{"status":"Pull complete","progressDetail":{},"id":"a1b2"}"#,
        ]);
        assert_eq!(
            events,
            [
                BuildEvent::Output("bookworm: Pulling from debian".into()),
                BuildEvent::Output("a1b2: Pull complete".into())
            ]
        );
    }
}
