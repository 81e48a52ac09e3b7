"""The seed-sweep benchmark's own logic: variant parsing and the per-seed win counts."""
import pytest

from tools.bench.pendulum_seeds import better, summarise, variant_args


def test_variants_become_train_options_and_bad_ones_are_refused():
    assert variant_args("vhp-vae") == ["--model", "vhp-vae"]
    assert variant_args("vhp-vae:scaled") == ["--model", "vhp-vae", "--loss-scale", "lambda"]
    assert variant_args("fmvae:0.01:relative:scaled") == [
        "--model", "fmvae", "--eta", "0.01", "--flatness", "relative", "--loss-scale", "lambda"]
    assert variant_args("vhp-vae:scaled:nu0.05") == [
        "--model", "vhp-vae", "--loss-scale", "lambda", "--nu", "0.05"]
    assert variant_args("fmvae:1:nu0.1:start500") == [
        "--model", "fmvae", "--eta", "1", "--nu", "0.1", "--flat-start", "500"]
    for bad in ("fmvae", "fmvae:x", "fmvae:3:sideways", "vae:3", "vhp-vae:relative", "vhp-vae:start5",
                "fmvae:1:nu0", "fmvae:1:nu", "fmvae:1:nuinf", "vhp-vae:nunan", "fmvae:inf", "fmvae:-1", "fmvae:1:startx"):
        with pytest.raises(ValueError, match="variant"):
            variant_args(bad)


def row(variant, seed, cond, riemannian, c_hat=0.2):
    return {"variant": variant, "seed": seed, "cond": cond, "mf_iqr": 1.0, "log_mf_iqr": 1.0,
            "riemannian": riemannian, "latent_std": 1.0, "c_hat": c_hat, "lambda": 1.0}


def test_wins_are_counted_per_seed_against_the_first_variant():
    rows = [row("a", 0, 10, 1.2), row("a", 1, 10, 1.2),
            row("b", 0, 5, 0.9, c_hat=0.5), row("b", 1, 20, 1.3)]
    table = summarise(rows, ["a", "b"], kappa2=0.3)
    line = next(l for l in table.splitlines() if l.startswith("| b |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2].endswith("(1/2)")      # cond: lower on seed 0 only
    assert cells[6].endswith("(1/2)")      # Riemannian 0.9 is closer to 1 than 1.2; 1.3 is not
    assert cells[3].endswith("(0/2)")      # equal spreads are no win
    assert cells[5] == "n/a"               # reports older than the per-dimension MF lack it
    assert cells[8] == "1/2"               # one seed ends over kappa^2
    assert better("riemannian", 0.95, 1.1) and not better("riemannian", 1.2, 1.1)
    # Seed 0 broke the bound for b, so a second table keeps seed 1 alone.
    kept = table[table.index("Only the seeds"):]
    assert "(1)" in kept.splitlines()[0]
    line = next(l for l in kept.splitlines() if l.startswith("| b |"))
    assert line.split("|")[3].strip().endswith("(0/1)")   # cond 20 vs 10 on seed 1


def test_failed_runs_are_listed_and_left_out_of_the_means():
    rows = [row("a", 0, 10, 1.2), row("a", 1, 30, 1.2), row("b", 0, 5, 1.1),
            {"variant": "b", "seed": 1, "failed": "training diverged at step 7"}]
    table = summarise(rows, ["a", "b"], kappa2=0.3)
    line = next(l for l in table.splitlines() if l.startswith("| b |"))
    assert line.split("|")[2].strip() == "1"                       # one finished seed
    assert line.split("|")[3].strip().startswith("5 +- 0 (1/1)")  # compared on seed 0 only
    assert "b seed 1: training diverged at step 7" in table
    only_failed = summarise([row("a", 0, 10, 1.2), {"variant": "b", "seed": 0, "failed": "x"}], ["a", "b"], 0.3)
    assert "| b | 0 |" in only_failed


def test_a_statistic_missing_from_some_reports_is_compared_where_both_have_it():
    rows = [dict(row("a", 0, 10, 1.2), mf_dim_iqr=0.5), row("a", 1, 10, 1.2),
            dict(row("b", 0, 5, 1.1), mf_dim_iqr=0.1), dict(row("b", 1, 5, 1.1), mf_dim_iqr=0.3)]
    line = next(l for l in summarise(rows, ["a", "b"], 0.3).splitlines() if l.startswith("| b |"))
    assert line.split("|")[6].strip() == "0.2 +- 0.14 (1/1)"    # mean of both, wins on seed 0 only
