//! Tables going in: Parquet (through polars), CSV and JSON lines (read here, so that every error
//! names the line and the column), all into one [`RawTable`] of named columns of [`Cell`]s.

use std::path::Path;

use polars::prelude::{AnyValue, DataFrame};

use crate::DataError;

/// One value of an input table, before it is known what the column should hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Empty (CSV), `null` or absent (JSON), null (Parquet).
    Null,
    Number(f64),
    Text(String),
}

/// A table read from a file: column names in order, and rows of cells in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTable {
    /// The file, as messages name it.
    pub file: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// How a row is named in messages: `line` (CSV, JSON lines: the file's line) or `row`
    /// (Parquet: 1-based row).
    unit: &'static str,
    /// The number the first row gets (2 in a CSV file, after its header).
    first: usize,
    /// For JSON lines, the line of each row (blank lines are skipped).
    lines: Option<Vec<usize>>,
}

impl RawTable {
    /// Where row `i` (0-based) is, in the file's own terms: `line 7` or `row 7`.
    pub fn at(&self, i: usize) -> String {
        let n = self.lines.as_ref().map_or(self.first + i, |l| l[i]);
        format!("{} {n}", self.unit)
    }

    /// The index of column `name`, if the table has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// An error about row `i`, column `column`.
    pub fn cell_error(&self, i: usize, column: &str, reason: impl Into<String>) -> DataError {
        DataError::Cell {
            file: self.file.clone(),
            at: self.at(i),
            column: column.into(),
            reason: reason.into(),
        }
    }
}

/// Reads `path` by its extension: `.parquet`, `.csv`, `.jsonl` or `.ndjson`.
///
/// # Errors
/// [`DataError::Io`] if it cannot be read; [`DataError::Format`] for another extension, a file
/// that is not Parquet or not UTF-8; [`DataError::Cell`] for a malformed line.
pub fn read_table(path: &Path) -> Result<RawTable, DataError> {
    let file = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let text = |format| {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        String::from_utf8(bytes).map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            format,
            reason: format!("not UTF-8 at byte {}", e.utf8_error().valid_up_to()),
        })
    };
    match ext.as_str() {
        "parquet" => from_frame(&crate::table::read_parquet(path)?, &file),
        "csv" => parse_csv(&text("CSV")?, &file),
        "jsonl" | "ndjson" => parse_json_lines(&text("JSON lines")?, &file),
        _ => Err(DataError::Format {
            path: path.to_path_buf(),
            format: "a table",
            reason: format!("unknown extension {ext:?}: use .parquet, .csv, .jsonl or .ndjson"),
        }),
    }
}

/// A polars frame as a [`RawTable`]: numbers stay numbers, strings text, nulls [`Cell::Null`].
pub fn from_frame(frame: &DataFrame, file: &str) -> Result<RawTable, DataError> {
    let columns: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = vec![Vec::with_capacity(columns.len()); frame.height()];
    for column in frame.columns() {
        let name = column.name().to_string();
        for (i, row) in rows.iter_mut().enumerate() {
            let value =
                column.get(i).map_err(|e| DataError::Table { file: file.into(), reason: e.to_string() })?;
            row.push(match value {
                AnyValue::Null => Cell::Null,
                AnyValue::String(s) => Cell::Text(s.to_string()),
                AnyValue::StringOwned(s) => Cell::Text(s.to_string()),
                AnyValue::Boolean(_) => {
                    let reason = "a boolean; scores and ids are numbers or text".to_string();
                    return Err(DataError::Cell {
                        file: file.into(),
                        at: format!("row {}", i + 1),
                        column: name,
                        reason,
                    });
                }
                other => match other.extract::<f64>() {
                    Some(x) => Cell::Number(x),
                    None => Cell::Text(other.to_string()),
                },
            });
        }
    }
    Ok(RawTable { file: file.into(), columns, rows, unit: "row", first: 1, lines: None })
}

/// Named columns of cells (a data frame handed over column by column, as the Python package
/// does) as a [`RawTable`]; rows are named `row 1`, `row 2`, ... in messages.
///
/// # Errors
/// [`DataError::Table`] for no columns, a repeated name, or columns of different lengths.
pub fn from_columns(columns: Vec<(String, Vec<Cell>)>, file: &str) -> Result<RawTable, DataError> {
    let table_error = |reason: String| DataError::Table { file: file.into(), reason };
    let Some(height) = columns.first().map(|(_, cells)| cells.len()) else {
        return Err(table_error("no columns".into()));
    };
    let mut names: Vec<String> = Vec::with_capacity(columns.len());
    for (name, cells) in &columns {
        if names.contains(name) {
            return Err(table_error(format!("column {name:?} appears twice")));
        }
        if cells.len() != height {
            let first = &columns[0].0;
            return Err(table_error(format!(
                "column {name:?} has {} values but {first:?} has {height}; every column needs one value per row",
                cells.len()
            )));
        }
        names.push(name.clone());
    }
    let mut rows = vec![Vec::with_capacity(columns.len()); height];
    for (_, cells) in columns {
        for (row, cell) in rows.iter_mut().zip(cells) {
            row.push(cell);
        }
    }
    Ok(RawTable { file: file.into(), columns: names, rows, unit: "row", first: 1, lines: None })
}

/// Parses CSV text (RFC 4180: a header row, fields separated by commas, quoted with `"` when they
/// hold commas, quotes or line breaks). Every field is [`Cell::Text`], empty ones [`Cell::Null`].
///
/// # Errors
/// [`DataError::Cell`] for a line whose field count differs from the header's or an unclosed
/// quote; [`DataError::Table`] for a file without a header.
pub fn parse_csv(text: &str, file: &str) -> Result<RawTable, DataError> {
    let records = split_csv(text, file)?;
    let mut records = records.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(DataError::Table {
            file: file.into(),
            reason: "empty file: a CSV table starts with a header row".into(),
        });
    };
    let columns: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let (mut rows, mut lines) = (Vec::new(), Vec::new());
    for (line, fields) in records {
        if fields.len() == 1 && fields[0].is_empty() {
            continue; // a blank line
        }
        if fields.len() != columns.len() {
            return Err(DataError::Cell {
                file: file.into(),
                at: format!("line {line}"),
                column: columns
                    .get(fields.len().min(columns.len().saturating_sub(1)))
                    .cloned()
                    .unwrap_or_default(),
                reason: format!("{} fields, but the header has {}", fields.len(), columns.len()),
            });
        }
        let cells =
            fields.into_iter().map(|f| if f.is_empty() { Cell::Null } else { Cell::Text(f) }).collect();
        rows.push(cells);
        lines.push(line);
    }
    Ok(RawTable { file: file.into(), columns, rows, unit: "line", first: 2, lines: Some(lines) })
}

/// CSV records with the line each starts on.
fn split_csv(text: &str, file: &str) -> Result<Vec<(usize, Vec<String>)>, DataError> {
    let mut out = Vec::new();
    let (mut fields, mut field) = (Vec::new(), String::new());
    let (mut line, mut start, mut quoted, mut was_quoted) = (1usize, 1usize, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() && !was_quoted => (quoted, was_quoted) = (true, true),
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                was_quoted = false;
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        let reason = "a quoted field is never closed: end it with \"".to_string();
        return Err(DataError::Cell {
            file: file.into(),
            at: format!("line {start}"),
            column: String::new(),
            reason,
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

/// Parses JSON lines: one JSON object per line (blank lines skipped), its keys the columns, in
/// the order first seen; numbers become [`Cell::Number`], strings [`Cell::Text`], `null` and
/// missing keys [`Cell::Null`].
///
/// # Errors
/// [`DataError::Cell`] for a line that is not a JSON object or holds a nested value.
pub fn parse_json_lines(text: &str, file: &str) -> Result<RawTable, DataError> {
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    let mut lines = Vec::new();
    for (k, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", k + 1);
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| DataError::Cell {
            file: file.into(),
            at: at.clone(),
            column: String::new(),
            reason: format!("not JSON ({e})"),
        })?;
        let serde_json::Value::Object(map) = value else {
            let reason = "not a JSON object; each line is one row, {\"column\": value, ...}".to_string();
            return Err(DataError::Cell { file: file.into(), at, column: String::new(), reason });
        };
        for key in map.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        objects.push(map);
        lines.push(k + 1);
    }
    let mut rows = Vec::with_capacity(objects.len());
    for (map, &line) in objects.iter().zip(&lines) {
        let mut row = Vec::with_capacity(columns.len());
        for column in &columns {
            row.push(match map.get(column) {
                None | Some(serde_json::Value::Null) => Cell::Null,
                Some(serde_json::Value::Number(x)) => Cell::Number(x.as_f64().unwrap_or(f64::NAN)),
                Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
                Some(other) => {
                    return Err(DataError::Cell {
                        file: file.into(),
                        at: format!("line {line}"),
                        column: column.clone(),
                        reason: format!("{other} is not a number or a string"),
                    })
                }
            });
        }
        rows.push(row);
    }
    Ok(RawTable { file: file.into(), columns, rows, unit: "line", first: 1, lines: Some(lines) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_commas_and_line_breaks_and_names_lines() {
        let t = parse_csv("a,b\n\"x,1\",2\n\n\"multi\nline\",\"say \"\"hi\"\"\"\n", "t.csv").unwrap();
        assert_eq!(t.columns, ["a", "b"]);
        assert_eq!(t.rows[0], [Cell::Text("x,1".into()), Cell::Text("2".into())]);
        assert_eq!(t.rows[1], [Cell::Text("multi\nline".into()), Cell::Text("say \"hi\"".into())]);
        assert_eq!((t.at(0), t.at(1)), ("line 2".to_string(), "line 4".to_string()));
    }

    #[test]
    fn json_lines_fill_missing_keys_with_null() {
        let t =
            parse_json_lines("{\"a\": 1, \"b\": \"x\"}\n\n{\"b\": null, \"c\": 2.5}\n", "t.jsonl").unwrap();
        assert_eq!(t.columns, ["a", "b", "c"]);
        assert_eq!(t.rows[1], [Cell::Null, Cell::Null, Cell::Number(2.5)]);
        assert_eq!(t.at(1), "line 3");
    }

    #[test]
    fn a_polars_frame_keeps_numbers_text_and_nulls() {
        use polars::prelude::*;
        let frame = df!("id" => ["p1", "p2"], "x" => [Some(1.5), None], "k" => [3u64, 4]).unwrap();
        let t = from_frame(&frame, "t.parquet").unwrap();
        assert_eq!(t.rows[0], [Cell::Text("p1".into()), Cell::Number(1.5), Cell::Number(3.0)]);
        assert_eq!(t.rows[1][1], Cell::Null);
        assert_eq!(t.at(1), "row 2");
    }
}
