"""Reads a target's Parquet with polars and with pandas (pyarrow) and checks the schema that
goodhart_data::table::schema documents. Usage: python3 .ci/read_parquet.py results/fig1/tiny/fig1.parquet"""
import sys

import pandas as pd
import polars as pl

SCHEMA = {
    "experiment": pl.String, "method": pl.String, "rm_size": pl.String, "rm_params": pl.UInt64,
    "data_size": pl.UInt64, "policy_size": pl.String, "kl_penalty": pl.Float64, "seed": pl.UInt64,
    "n": pl.UInt64, "step": pl.UInt64, "kl": pl.Float64, "sqrt_kl": pl.Float64, "gold": pl.Float64,
    "gold_se": pl.Float64, "proxy": pl.Float64, "proxy_se": pl.Float64, "rubric": pl.Float64,
    "rubric_se": pl.Float64, "fidelity": pl.Float64,
}

path = sys.argv[1]
frame = pl.read_parquet(path)
got = dict(frame.schema)
assert list(got) == list(SCHEMA), f"columns {list(got)} != {list(SCHEMA)}"
for name, dtype in SCHEMA.items():
    assert got[name] == dtype, f"{name}: {got[name]} != {dtype}"
assert frame.height > 0, "no rows"
assert set(frame["method"].unique()) <= {"bon", "rl"}, frame["method"].unique()
assert (frame.filter(pl.col("method") == "bon")["n"].null_count() == 0), "every best-of-n row has an n"
pandas = pd.read_parquet(path, engine="pyarrow")
assert list(pandas.columns) == list(SCHEMA) and len(pandas) == frame.height
assert abs(pandas["gold"].sum() - frame["gold"].sum()) < 1e-9
print(f"{path}: {frame.height} rows, schema as documented; polars and pandas agree")

# the fits beside it (goodhart_data::fits::fits_schema)
fits_path = path.replace(".parquet", "_fits.parquet")
fits = pl.read_parquet(fits_path)
FITS = ["experiment", "method", "rm_size", "rm_params", "data_size", "policy_size", "kl_penalty", "seed",
        "score", "form", "alpha", "alpha_lo", "alpha_hi", "beta", "beta_lo", "beta_hi", "r2", "rmse",
        "n_points", "peak_d", "peak_score", "measured_peak_d", "measured_peak_score", "max_d",
        "rm_val_loss", "rm_val_accuracy"]
assert fits.columns == FITS, f"columns {fits.columns} != {FITS}"
assert fits.height > 0 and set(fits["score"].unique()) <= {"gold", "proxy"}
assert set(fits["form"].unique()) <= {"bon", "rl"}
assert len(pd.read_parquet(fits_path, engine="pyarrow")) == fits.height
print(f"{fits_path}: {fits.height} fits, schema as documented; polars and pandas agree")
