"""Entry point of `invtwin`: one Typer app with a sub-command group per deployable."""

from __future__ import annotations

import typer

from cli import api_cmd, chaos, demo, dlq, flow, history, kafka, loadtest, masterdata, sim

app = typer.Typer(
    help="Inventory Twin: a live digital twin of multi-warehouse inventory.", no_args_is_help=True
)
app.add_typer(kafka.app, name="kafka", help="Run the local Apache Kafka broker and topics.")
app.add_typer(flow.app, name="flow", help="Run the Bytewax dataflows (normalize, twin).")
app.add_typer(sim.app, name="sim", help="Run the SimPy simulator and scenarios.")
app.add_typer(
    masterdata.app, name="masterdata", help="Check master data; convert YAML <-> CSV bundle."
)
app.add_typer(
    dlq.app, name="dlq", help="Browse dead letters; replay those master data now fixes."
)
app.command("api", help="Run the FastAPI service (REST, WebSocket, dashboard).")(api_cmd.run)
app.command("history")(history.run)  # its help is its docstring
app.command("chaos")(chaos.run)  # its help is its docstring
app.command("demo", help="Run the whole system on the local broker with a live scenario.")(demo.run)
app.command("loadtest", help="Run the Locust load test headless against a running stack.")(
    loadtest.run
)

if __name__ == "__main__":
    app()
