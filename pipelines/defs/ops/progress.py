"""A console logger for the `journeys` command: one short line per finished step."""

import logging
import sys

import dagster as dg


class _ProgressHandler(logging.Handler):
    verbose = False  # with False, Dagster's own errors (failed steps, steps not executed) stay out

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        text = meta.get("orig_message") or record.getMessage()
        step = meta.get("step_key") or ""
        if event is not None:
            kind = event.event_type_value
            if kind == "STEP_FAILURE":
                if not self.verbose:
                    return
                line = f"  ✗ {step} failed"
            elif kind == "ASSET_CHECK_EVALUATION":
                data = event.event_specific_data
                mark = "✓" if data.passed else "✗"
                line = f"  {mark} check {data.check_name} on {data.asset_key.to_user_string()}"
            else:
                return
        elif step and (record.levelno == logging.INFO or (self.verbose and record.levelno > logging.INFO)):
            line = f"  · {text}"
        else:
            return
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@dg.logger(
    config_schema={"verbose": dg.Field(bool, default_value=False, description="Also show Dagster's errors.")},
    description="Short progress lines for the journeys command.",
)
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("journeys.progress")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        log.addHandler(_ProgressHandler())
    for handler in log.handlers:
        if isinstance(handler, _ProgressHandler):
            handler.verbose = bool(init_context.logger_config.get("verbose", False))
    return log
