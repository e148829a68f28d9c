//! One screen's list of rows and the cursor in it.

use std::ops::Range;

use ratatui::layout::Rect;

use crate::feed::merged::At;

/// One screen's list: its rows in display order (where each is in
/// the servers' snapshots), the cursor in them, and the window of them on screen. The
/// window is fitted to the terminal before each frame ([`fit`](super::render::fit)),
/// so drawing only reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List {
    /// Set by the view as snapshots and the query change.
    pub(super) rows: Vec<At>,
    pub pos: usize,
    /// The first row on screen.
    pub offset: usize,
    /// Rows that fit on screen: what PgUp/PgDn move by.
    pub page: usize,
    /// Where the list was laid out last, borders included, to map mouse
    /// clicks to rows.
    pub area: Rect,
}

impl List {
    pub fn rows(&self) -> &[At] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(super) fn clamp(&mut self) {
        self.pos = self.pos.min(self.rows.len().saturating_sub(1));
    }

    pub(super) fn move_to(&mut self, pos: usize) {
        self.pos = pos;
        self.clamp();
    }

    /// Moves the window so the cursor is inside a window of `height` rows.
    pub(super) fn fit(&mut self, area: Rect, height: usize) {
        self.area = area;
        self.page = height.max(1);
        self.clamp();
        if self.pos < self.offset {
            self.offset = self.pos;
        } else if self.pos >= self.offset + self.page {
            self.offset = self.pos + 1 - self.page;
        }
        // Do not leave empty space below the last row when the list shrinks.
        self.offset = self.offset.min(self.rows.len().saturating_sub(self.page));
    }

    /// The rows on screen, as positions in the list.
    pub fn window(&self) -> Range<usize> {
        let end = (self.offset + self.page).min(self.rows.len());
        self.offset.min(end)..end
    }
}
