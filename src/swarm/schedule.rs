//! When things are meant to happen: when each user starts (closed model, Locust's spawn rate)
//! and when each request is meant to be sent (open model, a fixed total rate).

use std::time::Duration;

/// Offset from the swarm's start at which user `index` (0-based) starts: one user every
/// `1 / spawn_rate` seconds, the first at once.
pub fn user_start(index: u64, spawn_rate: f64) -> Duration {
    Duration::from_secs_f64(index as f64 / spawn_rate)
}

/// Which worker thread runs user `index`: round-robin, so every thread ramps up together.
pub fn thread_of_user(index: u64, threads: usize) -> usize {
    (index % threads as u64) as usize
}

/// The open model: `connections` connections share a total `rate`. Connection `k` sends its
/// `j`-th request at `k / rate + j * connections / rate`, so the requests of all connections
/// interleave evenly at exactly `rate` per second.
#[derive(Debug, Clone, Copy)]
pub struct OpenSchedule {
    pub rate: f64,
    pub connections: u64,
}

impl OpenSchedule {
    pub fn intended_start(&self, connection: u64, sequence: u64) -> Duration {
        let slot = connection as f64 + sequence as f64 * self.connections as f64;
        Duration::from_secs_f64(slot / self.rate)
    }

    /// How many requests of `connection` were due by `elapsed` (counting the one at 0).
    pub fn due_by(&self, connection: u64, elapsed: Duration) -> u64 {
        let first = connection as f64 / self.rate;
        let since_first = elapsed.as_secs_f64() - first;
        if since_first < 0.0 {
            return 0;
        }
        let interval = self.connections as f64 / self.rate;
        (since_first / interval).floor() as u64 + 1
    }
}

/// A tiny, fast random generator for task picks and wait jitter (SplitMix64): one per user.
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn roll(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[min, max]`.
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        if max <= min {
            return min;
        }
        let span = (max - min).as_nanos() as u64;
        min + Duration::from_nanos(self.roll() % (span + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_rate_spreads_users() {
        assert_eq!(user_start(0, 5.0), Duration::ZERO);
        assert_eq!(user_start(5, 5.0), Duration::from_secs(1));
        assert_eq!(user_start(49, 5.0), Duration::from_millis(9800));
        let per_thread: Vec<usize> = (0..10).map(|u| thread_of_user(u, 3)).collect();
        assert_eq!(per_thread, vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn open_schedule_interleaves_at_the_rate() {
        let schedule = OpenSchedule {
            rate: 1000.0,
            connections: 4,
        };
        let mut starts: Vec<Duration> = (0..4)
            .flat_map(|c| (0..250).map(move |j| schedule.intended_start(c, j)))
            .collect();
        starts.sort();
        // 1000 requests at 1000/s: one every millisecond, none missing, none doubled.
        for (index, start) in starts.iter().enumerate() {
            let expected = Duration::from_millis(index as u64);
            assert!(
                start.abs_diff(expected) < Duration::from_micros(1),
                "{index}: {start:?}"
            );
        }
    }

    #[test]
    fn open_schedule_counts_due_requests() {
        let schedule = OpenSchedule {
            rate: 100.0,
            connections: 10,
        };
        // Connection 3 is due at 30 ms, 130 ms, 230 ms, ...
        assert_eq!(schedule.due_by(3, Duration::from_millis(29)), 0);
        assert_eq!(schedule.due_by(3, Duration::from_millis(30)), 1);
        assert_eq!(schedule.due_by(3, Duration::from_millis(250)), 3);
        let total: u64 = (0..10)
            .map(|c| schedule.due_by(c, Duration::from_millis(999)))
            .sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn dice_stays_in_range_and_spreads() {
        let mut dice = Dice::new(7);
        let (min, max) = (Duration::from_millis(500), Duration::from_secs(5));
        let waits: Vec<Duration> = (0..10_000).map(|_| dice.between(min, max)).collect();
        assert!(waits.iter().all(|w| (min..=max).contains(w)));
        let mean = waits.iter().sum::<Duration>() / waits.len() as u32;
        assert!(
            mean.abs_diff(Duration::from_millis(2750)) < Duration::from_millis(100),
            "{mean:?}"
        );
        assert_eq!(dice.between(max, max), max);
    }
}
