import asyncio, sys
from datetime import datetime, UTC
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
import bench.performance_bench as b
from tellonce_submissions.performance import repository
from tellonce_submissions.performance.repository import Scope
url = sys.argv[1]; which = sys.argv[2]; gb = sys.argv[3] if len(sys.argv) > 3 else "form"
async def main():
    e = create_async_engine(url)
    sc = Scope(start=datetime(2026,7,1,tzinfo=UTC), end=b.READ_AT, as_of=b.READ_AT, group_by=gb, mapping=b.mapping())
    sql = {"m": repository.measures_sql, "b": repository.backlog_sql, "d": repository.deliveries_sql}[which](sc)
    async with e.connect() as c:
        for row in await c.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), sc.params()):
            print(row[0])
    await e.dispose()
asyncio.run(main())
