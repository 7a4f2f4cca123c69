//! The paper's figures as SVG and PNG: plain `f64` data in, files out.
//!
//! A [`Figure`] is a title over [`Panel`]s drawn side by side; a panel holds [`Series`] (points,
//! a [`LineStyle`], a colour and optional standard errors drawn as a shaded band) and gets a
//! legend. [`write_svg`] and [`write_png`] render it with `plotters` and write it through
//! `goodhart_core`'s durable writes (a temporary file beside the target, fsynced, renamed over
//! it), like every artifact of this workspace, fault injection included. Axis ranges come from the finite data with a 5% margin; non-finite points are
//! skipped. An empty figure or a panel with nothing finite to draw is a [`PlotError`], never a
//! panic.
//!
//! The one design decision that matters: **no system fonts**. Text is measured and rasterised by
//! plotters' pure-Rust `ab_glyph` renderer with DejaVu Sans embedded in the binary (the `dejavu`
//! crate), registered once per process under `sans-serif` (and `serif`, `monospace`). So a figure
//! renders the same on a headless CI runner or in a container without fontconfig. SVG keeps text
//! as `<text>` elements, which a viewer draws in its own sans-serif font.
//!
//! Colours come from [`PALETTE`], a sequential map (viridis) ordered by reward-model size, so that
//! small-to-large reads dark-to-light; [`spread_colour`] spreads a few sizes over the whole map.
//!
//! # The convention of the paper's figure 1
//!
//! - x is the distance `d = sqrt(KL(pi || pi_init))`, in nats^(1/2): label it `"sqrt(KL) (nats^1/2)"`;
//! - y is the RM score (gold scores recentred on the initial policy);
//! - one colour per proxy RM size, the gold score [`LineStyle::Solid`], the proxy score
//!   [`LineStyle::Dashed`], the fitted law [`LineStyle::Thin`] (leave its label empty to keep the
//!   legend short), raw measurements [`LineStyle::Markers`] where a fit is drawn through them.
//!
//! ```
//! use goodhart_plot::{spread_colour, write_png, write_svg, Figure, LineStyle, Panel, Series};
//!
//! let d: Vec<f64> = (0..20).map(|i| i as f64 * 0.2).collect();
//! let mut panel = Panel::new("Best-of-n", "sqrt(KL) (nats^1/2)", "RM score");
//! for (rank, alpha) in [1.0, 1.5].into_iter().enumerate() {
//!     let colour = spread_colour(rank, 2);
//!     let gold = d.iter().map(|&d| (d, d * (alpha - 0.3 * d))).collect();
//!     let proxy = d.iter().map(|&d| (d, d * alpha)).collect();
//!     panel.series.push(Series::new(format!("gold, RM {rank}"), colour, LineStyle::Solid, gold));
//!     panel.series.push(Series::new(format!("proxy, RM {rank}"), colour, LineStyle::Dashed, proxy));
//! }
//! let fig = Figure::new("Figure 1").with_panel(panel);
//!
//! let dir = tempfile::tempdir()?;
//! write_svg(&fig, &dir.path().join("fig1.svg"))?;
//! write_png(&fig, &dir.path().join("fig1.png"))?;
//! assert!(std::fs::read_to_string(dir.path().join("fig1.svg"))?.contains("gold, RM 1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate depends on no other goodhart crate, no ML framework and no dataframe library.

mod error;
mod figure;
mod palette;
mod render;

pub use error::PlotError;
pub use figure::{Figure, LineStyle, Panel, Series, HEIGHT, PANEL_WIDTH, STRIP_HEIGHT};
pub use palette::{spread_colour, PALETTE};
pub use render::{render_svg, write_png, write_svg};
