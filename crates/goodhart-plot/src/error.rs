use std::path::PathBuf;

/// Everything that can go wrong while drawing or writing a figure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    #[error("the figure {title:?} has no panels: add at least one Panel")]
    EmptyFigure { title: String },
    #[error(
        "panel {panel} ({title:?}) has no finite point to draw: every point is NaN or infinite, \
         or it has no series"
    )]
    EmptyPanel { panel: usize, title: String },
    #[error(
        "series {label:?} in panel {panel} has {got} error values for {expected} points: \
         give one standard error per point (NaN for none)"
    )]
    ErrorLength { panel: usize, label: String, got: usize, expected: usize },
    #[error(
        "series {label:?} in panel {panel} has standard error {value} at point {index}: \
         a standard error must be >= 0 (NaN for none)"
    )]
    NegativeError { panel: usize, label: String, index: usize, value: f64 },
    #[error(
        "series {label:?} in panel {panel} asks for colour {colour}, but the palette has {len}: \
         use spread_colour(rank, count) to map many sizes onto it"
    )]
    ColourOutOfRange { panel: usize, label: String, colour: usize, len: usize },
    #[error("the embedded DejaVu Sans font could not be registered with plotters")]
    Font,
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
