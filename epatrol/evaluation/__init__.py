"""`epatrol eval`: the real pipeline over labelled clips -> precision, recall, time to alert, false alerts.

ground_truth.py (the labelled-set file) -> runner.py (the pipeline over the clips) -> matching.py
(events against truth, pure) -> report.py (JSON and a markdown table)."""
