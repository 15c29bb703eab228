"""`python app.py eval`: score Byline (and the llama-index quickstart baseline) on a question set.

One job per module: `dataset` reads and checks question sets, `metrics` scores answers,
`pipelines` wraps the engine, `baseline` is the quickstart, `indexes` picks and refreshes the
per-corpus index folders, `runner` asks the questions, `report` writes report.md, results.json
and the chart.
"""
