use std::time::Duration;

/// p50 and p90 of a set of samples.
pub fn percentile(samples: &[Duration], fraction: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

pub struct Report {
    pub name: &'static str,
    pub hub: Vec<Duration>,
    pub floor: Vec<Duration>,
    pub target: &'static str,
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

impl Report {
    pub fn print(&self) {
        let hub = percentile(&self.hub, 0.5);
        let floor = percentile(&self.floor, 0.5);
        let ratio = hub.as_secs_f64() / floor.as_secs_f64().max(1e-9);
        let added = hub.saturating_sub(floor);
        println!("{:<30} {:>12} {:>12} {:>9.2}x {:>12}  {}", self.name, ms(hub), ms(floor), ratio, ms(added), self.target);
    }

    pub fn print_detail(&self) {
        println!(
            "  {}: cchub p50 {} p90 {} (n={}); floor p50 {} p90 {} (n={})",
            self.name,
            ms(percentile(&self.hub, 0.5)),
            ms(percentile(&self.hub, 0.9)),
            self.hub.len(),
            ms(percentile(&self.floor, 0.5)),
            ms(percentile(&self.floor, 0.9)),
            self.floor.len()
        );
    }
}
