//! Collects a benchmark's measurements and prints them: an aligned table, then one
//! `RATIO <bench>/<case> vs <peer>: <x.xx>` line per case and peer, where the ratio is
//! aleph's throughput divided by the peer's (above 1.00: aleph is faster).

/// The implementation every ratio is taken against.
pub const ALEPH: &str = "aleph";

/// The results of one benchmark run.
#[derive(Debug)]
pub struct Report {
    bench: &'static str,
    header: String,
    unit: &'static str,
    cases: Vec<Case>,
    notes: Vec<String>,
}

#[derive(Debug)]
struct Case {
    name: String,
    results: Vec<(&'static str, f64)>,
}

impl Report {
    /// A report for benchmark `bench` whose throughputs count `unit` per second (for
    /// example "msg"); `header` says what was measured and how.
    pub fn new(bench: &'static str, header: impl Into<String>, unit: &'static str) -> Report {
        Report {
            bench,
            header: header.into(),
            unit,
            cases: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records that `implementation` moved `per_second` units per second in `case`.
    /// Results are printed in the order they were added.
    pub fn add(&mut self, case: &str, implementation: &'static str, per_second: f64) {
        let index = match self.cases.iter().position(|c| c.name == case) {
            Some(index) => index,
            None => {
                self.cases.push(Case {
                    name: case.to_owned(),
                    results: Vec::new(),
                });
                self.cases.len() - 1
            }
        };
        self.cases[index].results.push((implementation, per_second));
    }

    /// Adds a line printed after the table (latency, memory: what the
    /// throughput table does not show).
    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    /// The `(case, peer, ratio)` triples: aleph's throughput over each peer's, for
    /// every case in which aleph was measured.
    pub fn ratios(&self) -> Vec<(&str, &'static str, f64)> {
        let mut out = Vec::new();
        for case in &self.cases {
            let Some(aleph) = case.aleph() else { continue };
            for &(implementation, per_second) in &case.results {
                if implementation != ALEPH {
                    out.push((case.name.as_str(), implementation, aleph / per_second));
                }
            }
        }
        out
    }

    /// Prints the header, the table and the RATIO lines to stdout.
    pub fn print(&self) {
        println!("{}", self.header);
        println!();

        let columns = ["case", "implementation", "throughput", "aleph/impl"];
        let mut rows: Vec<[String; 4]> = Vec::new();
        for case in &self.cases {
            let aleph = case.aleph();
            for &(implementation, per_second) in &case.results {
                let ratio = match aleph {
                    Some(aleph) => format!("{:.2}", aleph / per_second),
                    None => "-".to_owned(),
                };
                rows.push([
                    case.name.clone(),
                    implementation.to_owned(),
                    format_rate(per_second, self.unit),
                    ratio,
                ]);
            }
        }

        let mut widths = columns.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let line = |cells: [&str; 4]| {
            // Names read best left-aligned, numbers right-aligned.
            println!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
        };
        line(columns);
        for row in &rows {
            line([&row[0], &row[1], &row[2], &row[3]]);
        }

        if !self.notes.is_empty() {
            println!();
            for note in &self.notes {
                println!("{note}");
            }
        }
        println!();
        for (case, peer, ratio) in self.ratios() {
            println!("RATIO {}/{case} vs {peer}: {ratio:.2}", self.bench);
        }
    }
}

impl Case {
    fn aleph(&self) -> Option<f64> {
        self.results
            .iter()
            .find(|(implementation, _)| *implementation == ALEPH)
            .map(|&(_, per_second)| per_second)
    }
}

/// Formats a rate with an SI prefix: `format_rate(12_345_678.0, "msg")` is
/// "12.3 M msg/s".
pub fn format_rate(per_second: f64, unit: &str) -> String {
    let (value, prefix) = if per_second >= 1e9 {
        (per_second / 1e9, "G")
    } else if per_second >= 1e6 {
        (per_second / 1e6, "M")
    } else if per_second >= 1e3 {
        (per_second / 1e3, "k")
    } else {
        (per_second, "")
    };
    let space = if prefix.is_empty() { "" } else { " " };
    format!("{value:.1}{space}{prefix} {unit}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_get_an_si_prefix() {
        assert_eq!(format_rate(12_345_678.0, "msg"), "12.3 M msg/s");
        assert_eq!(format_rate(850_200.0, "msg"), "850.2 k msg/s");
        assert_eq!(format_rate(2.5e9, "B"), "2.5 G B/s");
        assert_eq!(format_rate(12.0, "msg"), "12.0 msg/s");
    }

    #[test]
    fn ratios_are_aleph_over_each_peer_and_skip_cases_without_aleph() {
        let mut report = Report::new("stream", "header", "msg");
        report.add("1to1/u64", ALEPH, 300.0);
        report.add("1to1/u64", "tokio-mpsc", 200.0);
        report.add("1to1/u64", "async-channel", 600.0);
        report.add("peer-only", "tokio-mpsc", 1.0);
        assert_eq!(
            report.ratios(),
            vec![
                ("1to1/u64", "tokio-mpsc", 1.5),
                ("1to1/u64", "async-channel", 0.5)
            ]
        );
    }
}
