//! Axis ranges with round tick values (0, 20, 40 … rather than 0, 19.4, 38.8 …), and the
//! linear map from data to pixels.

/// An axis from `min` to `max` whose ticks are every `step`, all of them round numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

impl Axis {
    /// An axis covering `lo..=hi` with about `target` intervals, widened to the nearest ticks.
    /// Any input works: an empty or non-finite range becomes 0..1, a single value gets room
    /// around it, so a chart of one point still has an axis.
    pub fn nice(lo: f64, hi: f64, target: usize) -> Axis {
        let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
            (lo.min(hi), lo.max(hi))
        } else {
            (0.0, 1.0)
        };
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            if lo == 0.0 {
                hi = 1.0;
            } else {
                let pad = lo.abs() * 0.1;
                (lo, hi) = (lo - pad, hi + pad);
            }
        }
        let step = nice_step((hi - lo) / target.max(1) as f64);
        let first = (lo / step).floor();
        let last = (hi / step).ceil();
        // Multiplying whole counts of steps (rather than adding steps up) keeps 0.1 × 3 from
        // drifting further than one rounding.
        let ticks = (0..=(last - first) as usize)
            .map(|i| (first + i as f64) * step)
            .collect();
        Axis {
            min: first * step,
            max: last * step,
            step,
            ticks,
        }
    }

    /// Where `value` falls between the pixel positions of `min` (`from`) and `max` (`to`).
    pub fn map(&self, value: f64, from: f64, to: f64) -> f64 {
        let span = self.max - self.min;
        if span <= 0.0 {
            return from;
        }
        from + (value - self.min) / span * (to - from)
    }

    /// A tick's label with exactly the decimals the step needs; thousands as "k" once the
    /// numbers get long.
    pub fn label(&self, value: f64) -> String {
        let (value, step, suffix) = if self.max.abs().max(self.min.abs()) >= 10_000.0 {
            (value / 1000.0, self.step / 1000.0, "k")
        } else {
            (value, self.step, "")
        };
        let decimals = if step >= 1.0 {
            0
        } else {
            (-step.log10().floor()) as usize
        };
        let text = format!("{value:.decimals$}");
        // "-0" from a rounding just below zero reads as a bug.
        let text = if text
            .trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            text.trim_start_matches('-').to_string()
        } else {
            text
        };
        format!("{text}{suffix}")
    }
}

/// The round number (1, 2 or 5 times a power of ten) at or just above `rough`.
fn nice_step(rough: f64) -> f64 {
    let magnitude = 10f64.powf(rough.log10().floor());
    let residual = rough / magnitude;
    let nice = if residual <= 1.0 {
        1.0
    } else if residual <= 2.0 {
        2.0
    } else if residual <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

#[cfg(test)]
mod tests {
    use super::Axis;

    fn labels(axis: &Axis) -> Vec<String> {
        axis.ticks.iter().map(|&t| axis.label(t)).collect()
    }

    #[test]
    fn ticks_are_round_numbers() {
        let axis = Axis::nice(0.0, 97.0, 5);
        assert_eq!(labels(&axis), ["0", "20", "40", "60", "80", "100"]);
        assert_eq!((axis.min, axis.max), (0.0, 100.0));

        let axis = Axis::nice(0.0, 0.37, 5);
        assert_eq!(labels(&axis), ["0.0", "0.1", "0.2", "0.3", "0.4"]);

        let axis = Axis::nice(0.0, 1234.0, 5);
        assert_eq!(labels(&axis), ["0", "500", "1000", "1500"]);

        let axis = Axis::nice(0.0, 48_000.0, 4);
        assert_eq!(labels(&axis), ["0k", "20k", "40k", "60k"]);

        let axis = Axis::nice(0.0, 0.037, 4);
        assert_eq!(labels(&axis), ["0.00", "0.01", "0.02", "0.03", "0.04"]);

        let axis = Axis::nice(10.0, 100.0, 6);
        assert_eq!(axis.step, 20.0);
        assert_eq!((axis.min, axis.max), (0.0, 100.0));
    }

    #[test]
    fn degenerate_ranges_still_make_an_axis() {
        assert_eq!(
            labels(&Axis::nice(0.0, 0.0, 5)),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        let single = Axis::nice(3.0, 3.0, 5);
        assert!(single.min < 3.0 && single.max > 3.0, "{single:?}");
        let broken = Axis::nice(f64::NAN, f64::INFINITY, 5);
        assert_eq!((broken.min, broken.max), (0.0, 1.0));
    }

    #[test]
    fn maps_onto_pixels() {
        let axis = Axis::nice(0.0, 100.0, 5);
        assert_eq!(axis.map(0.0, 300.0, 20.0), 300.0);
        assert_eq!(axis.map(50.0, 300.0, 20.0), 160.0);
        assert_eq!(axis.map(100.0, 300.0, 20.0), 20.0);
    }
}
