//! How statuses, selections, times and durations look on the dashboard, in
//! one place so every screen says them the same way.

use std::time::{Duration, SystemTime};

use ratatui::style::{Color, Modifier, Style};

use crate::feed::event::{EventKind, rfc3339};
use crate::protocol::Status;

pub fn status_style(status: Status) -> Style {
    Style::new().fg(match status {
        Status::Alive => Color::Green,
        Status::Leave => Color::Yellow,
        Status::Close => Color::Red,
    })
}

/// The color of an event's line: its new status, or what kind of news it is.
pub fn event_style(kind: &EventKind) -> Style {
    let color = match kind {
        EventKind::Status { to, .. } => return status_style(*to),
        EventKind::Connected { .. } => Color::Cyan,
        EventKind::Closed { .. } | EventKind::Rejected { .. } => Color::Red,
        EventKind::BadFrame { .. } | EventKind::Kick { .. } | EventKind::Tls { .. } => {
            Color::Magenta
        }
        EventKind::Started { .. } | EventKind::Stopped { .. } => Color::Blue,
        EventKind::FleetSilent { .. } => Color::LightRed,
        EventKind::FleetRecovered { .. } => Color::LightGreen,
        EventKind::MaintenanceStarted { .. } | EventKind::MaintenanceEnded { .. } => Color::Gray,
    };
    Style::new().fg(color)
}

/// The selected row gets a background that keeps status colors legible.
pub fn row_style(selected: bool) -> Style {
    if selected {
        Style::new()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

/// `12:04:05` (UTC).
pub fn clock(at: SystemTime) -> String {
    rfc3339(at)[11..19].to_owned()
}

/// How long ago `then` was, rounded down: `<1s ago`, `2s ago`, `3m05s ago`.
pub fn ago(now: SystemTime, then: SystemTime) -> String {
    let d = now.duration_since(then).unwrap_or_default();
    if d < Duration::from_secs(1) {
        "<1s ago".to_owned()
    } else {
        format!("{} ago", short(d))
    }
}

/// How long until something happens, rounded up, so that it never reads 0
/// before it has happened: `1s`, `3s`, `2m05s`.
pub fn countdown(d: Duration) -> String {
    let whole = Duration::from_secs(d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0)));
    short(whole.max(Duration::from_secs(1)))
}

/// A compact duration, rounded down to what it shows: `0s`, `12s`, `3m05s`,
/// `2h07m`, `3d04h`.
pub fn short(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_round_up_and_ages_round_down_the_same_way_everywhere() {
        let ms = Duration::from_millis;
        assert_eq!(countdown(ms(2500)), "3s");
        assert_eq!(countdown(ms(500)), "1s");
        assert_eq!(countdown(ms(3000)), "3s");
        assert_eq!(countdown(ms(0)), "1s");
        assert_eq!(countdown(ms(125_400)), "2m06s");
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(ago(t0 + ms(400), t0), "<1s ago");
        assert_eq!(ago(t0 + ms(2500), t0), "2s ago");
        assert_eq!(short(ms(3_725_000)), "1h02m");
    }
}
