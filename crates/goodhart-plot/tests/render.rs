//! Rendering end to end: what the files contain, and the errors for bad input.

use std::fs;
use std::path::Path;

use goodhart_plot::{
    render_svg, write_png, write_svg, Figure, LineStyle, Panel, PlotError, Series, HEIGHT, PANEL_WIDTH,
    STRIP_HEIGHT,
};

fn curve(f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..16).map(|i| i as f64 * 0.25).map(|d| (d, f(d))).collect()
}

fn figure(panels: usize) -> Figure {
    let mut fig = Figure::new("Overoptimisation of the gold RM");
    for p in 0..panels {
        let gold = Series::new("gold 3M", 2, LineStyle::Solid, curve(|d| d * (1.0 - 0.2 * d)))
            .with_error(vec![0.05; 16]);
        let proxy = Series::new("proxy 3M", 2, LineStyle::Dashed, curve(|d| d));
        let fit = Series::new("", 2, LineStyle::Thin, curve(|d| d * (1.0 - 0.21 * d)));
        let raw = Series::new("raw 30M", 9, LineStyle::Markers, curve(|d| 0.9 * d));
        let panel = Panel::new(format!("panel {p}"), "sqrt(KL) (nats^1/2)", "RM score")
            .with_series(gold)
            .with_series(proxy)
            .with_series(fit)
            .with_series(raw);
        fig.panels.push(panel);
    }
    fig
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn svg_holds_the_title_the_panel_titles_and_the_legend_labels() {
    let svg = render_svg(&figure(2)).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    for text in ["Overoptimisation of the gold RM", "panel 0", "panel 1", "gold 3M", "proxy 3M", "raw 30M"] {
        assert!(svg.contains(text), "the SVG lacks {text:?}");
    }
    assert!(svg.contains(&format!("width=\"{}\"", 2 * PANEL_WIDTH)));
}

#[test]
fn a_strip_of_thin_panels_goes_under_the_panels() {
    let strip = Panel::new("fidelity", "sqrt(KL) (nats^1/2)", "fidelity").with_series(Series::new(
        "RM 3M",
        2,
        LineStyle::Solid,
        curve(|d| 1.0 - 0.1 * d),
    ));
    let fig = figure(2).with_strip(strip);
    assert_eq!(fig.size(), (2 * PANEL_WIDTH, HEIGHT + STRIP_HEIGHT));
    let svg = render_svg(&fig).unwrap();
    assert!(svg.contains("fidelity") && svg.contains(&format!("height=\"{}\"", HEIGHT + STRIP_HEIGHT)));
    // a strip panel with nothing finite is an error, like any panel
    let empty = figure(1).with_strip(Panel::new("empty", "x", "y").with_series(Series::new(
        "",
        0,
        LineStyle::Solid,
        vec![(f64::NAN, 1.0)],
    )));
    assert!(render_svg(&empty).is_err());
}

#[test]
fn svg_escapes_markup_in_text() {
    let mut fig = figure(1);
    fig.title = "RM < 1M & gold".into();
    let svg = render_svg(&fig).unwrap();
    assert!(svg.contains("RM &lt; 1M &amp; gold"));
}

#[test]
fn png_has_the_signature_and_the_figure_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fig.png");
    write_png(&figure(2), &path).unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // The first chunk is IHDR: length (4), type (4), then width and height, big-endian.
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (2 * PANEL_WIDTH, HEIGHT));
}

#[test]
fn writes_replace_an_existing_file_and_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("fig.svg");
    let png = dir.path().join("fig.png");
    fs::write(&svg, "old").unwrap();
    fs::write(&png, "old").unwrap();
    write_svg(&figure(1), &svg).unwrap();
    write_png(&figure(1), &png).unwrap();
    assert!(fs::read_to_string(&svg).unwrap().contains("gold 3M"));
    assert_eq!(&fs::read(&png).unwrap()[..4], b"\x89PNG");
    assert_eq!(files_in(dir.path()), ["fig.png", "fig.svg"]);
}

#[cfg(unix)]
#[test]
fn written_files_get_the_mode_of_an_ordinary_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    fs::write(&plain, "x").unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (svg, png) = (dir.path().join("fig.svg"), dir.path().join("fig.png"));
    write_svg(&figure(1), &svg).unwrap();
    write_png(&figure(1), &png).unwrap();
    assert_eq!(mode(&svg), mode(&plain));
    assert_eq!(mode(&png), mode(&plain));
}

#[test]
fn a_panel_of_nan_points_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let nan = Series::new("nan", 0, LineStyle::Solid, vec![(f64::NAN, 1.0), (1.0, f64::NAN)]);
    let fig = figure(1).with_panel(Panel::new("empty", "x", "y").with_series(nan));
    let err = write_svg(&fig, &dir.path().join("fig.svg")).unwrap_err();
    assert!(matches!(err, PlotError::EmptyPanel { panel: 1, .. }), "{err}");
    let err = write_png(&fig, &dir.path().join("fig.png")).unwrap_err();
    assert!(matches!(err, PlotError::EmptyPanel { panel: 1, .. }), "{err}");
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn bad_figures_are_errors_not_panics() {
    type Check = fn(&PlotError) -> bool;
    let cases: Vec<(Figure, Check)> = vec![
        (Figure::new("none"), |e| matches!(e, PlotError::EmptyFigure { .. })),
        (Figure::new("no series").with_panel(Panel::new("p", "x", "y")), |e| {
            matches!(e, PlotError::EmptyPanel { panel: 0, .. })
        }),
        (
            Figure::new("colour").with_panel(Panel::new("p", "x", "y").with_series(Series::new(
                "a",
                10,
                LineStyle::Solid,
                curve(|d| d),
            ))),
            |e| matches!(e, PlotError::ColourOutOfRange { colour: 10, .. }),
        ),
        (
            Figure::new("errors").with_panel(
                Panel::new("p", "x", "y")
                    .with_series(Series::new("a", 0, LineStyle::Solid, curve(|d| d)).with_error(vec![0.1])),
            ),
            |e| matches!(e, PlotError::ErrorLength { got: 1, expected: 16, .. }),
        ),
        (
            Figure::new("negative").with_panel(
                Panel::new("p", "x", "y").with_series(
                    Series::new("a", 0, LineStyle::Solid, curve(|d| d)).with_error(vec![-0.1; 16]),
                ),
            ),
            |e| matches!(e, PlotError::NegativeError { index: 0, .. }),
        ),
    ];
    for (fig, expected) in cases {
        let err = render_svg(&fig).unwrap_err();
        assert!(expected(&err), "{}: unexpected error {err}", fig.title);
    }
}

#[test]
fn a_missing_directory_is_made_and_an_unwritable_path_is_an_io_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    // like every artifact's write, a figure's makes its directory
    for name in ["fig.svg", "fig.png"] {
        let path = dir.path().join("missing").join(name);
        let written =
            if name.ends_with("svg") { write_svg(&figure(1), &path) } else { write_png(&figure(1), &path) };
        written.unwrap();
        assert!(path.is_file());
    }
    // a directory that is a file cannot hold one
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    for name in ["fig.svg", "fig.png"] {
        let path = file.join(name);
        let err =
            if name.ends_with("svg") { write_svg(&figure(1), &path) } else { write_png(&figure(1), &path) }
                .unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    assert_eq!(files_in(&dir.path().join("missing")), ["fig.png", "fig.svg"], "no temporary file left");
}

#[test]
fn palette_spreads_sizes_over_the_whole_map() {
    use goodhart_plot::{spread_colour, PALETTE};
    let last = PALETTE.len() - 1;
    assert_eq!((0..5).map(|r| spread_colour(r, 5)).collect::<Vec<_>>(), [0, 2, 5, 7, last]);
    assert_eq!((0..10).map(|r| spread_colour(r, 10)).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    assert_eq!(spread_colour(0, 1), 0);
    assert_eq!(spread_colour(20, 12), last);
}
