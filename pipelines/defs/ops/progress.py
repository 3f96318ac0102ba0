"""A console logger for the `journeys` command: one short line per finished step."""

import logging
import sys

import dagster as dg


class _ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        text = meta.get("orig_message") or record.getMessage()
        step = meta.get("step_key") or ""
        if event is not None:
            kind = event.event_type_value
            if kind == "STEP_FAILURE":
                line = f"  ✗ {step} failed"
            elif kind == "ASSET_CHECK_EVALUATION":
                data = event.event_specific_data
                mark = "✓" if data.passed else "✗"
                line = f"  {mark} check {data.check_name} on {data.asset_key.to_user_string()}"
            else:
                return
        elif record.levelno >= logging.INFO and step:
            line = f"  · {text}"
        else:
            return
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@dg.logger(description="Short progress lines for the journeys command.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("journeys.progress")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        log.addHandler(_ProgressHandler())
    return log
