"""One SQL model on Spark, alone, over the tables a `make bench ENGINE=spark` run left: how
long its Spark form takes under given Spark settings, to try a setting without a whole run.

    python -m bench.spark_model bench/.cache/wh-10000000-spark intermediate.classified_events \\
        --conf '{"spark.sql.autoBroadcastJoinThreshold": "10m"}'

registers the model's inputs (the Parquet tables under `<work>/spark/`) in a local Spark
session, builds the model's Spark form as `journeys run` does (transforms.engines.spark_run
.spark_frame, with the default configuration's parameters) and runs it to the end without
writing it (Spark's `noop` format). A local master gets `local_defaults`, which `--conf`
overrides.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path, help="The folder of a Spark bench run (bench/.cache/wh-<N>-spark).")
    ap.add_argument("model", help="The model, schema.table (a SQL file under sql/).")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--conf", default="{}", help="Spark settings as a JSON object.")
    args = ap.parse_args()

    import sqlglot
    from pyspark.sql.types import MapType

    from transforms.config import load_config
    from transforms.engines import spark_tables
    from transforms.engines.spark import PortableDuckDB, spark_session
    from transforms.engines.spark_run import SparkEngine, spark_frame
    from transforms.models import graph, model_params
    from transforms.warehouse import read_model

    root = args.work / "spark"
    with tempfile.TemporaryDirectory(prefix="journeys-spark-model-") as scratch:
        session = spark_session(Path(scratch), master=args.master, conf=json.loads(args.conf))
        maps: set[str] = set()
        for relation in graph()[args.model]:
            schema, table = relation.split(".")
            spark_tables.register(session, relation, root / schema / table)
            maps |= {f.name.lower() for f in session.table(relation).schema.fields if isinstance(f.dataType, MapType)}
        sql = read_model(args.model)
        engine = SparkEngine(session, Path(scratch) / "out", map_columns=maps)
        t0 = time.monotonic()
        frame = spark_frame(engine, sqlglot.parse_one(sql, read=PortableDuckDB), model_params(load_config(None)), sql)
        frame.write.mode("overwrite").format("noop").save()
        print(f"{args.model} on Spark {args.master} with {args.conf}: {time.monotonic() - t0:.1f} s")
        session.stop()


if __name__ == "__main__":
    main()
