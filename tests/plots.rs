//! Figures: files exist, PNGs decode at the expected size and are not blank, SVGs hold titles and labels.
