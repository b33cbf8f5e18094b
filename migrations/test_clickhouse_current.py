"""Apply every ClickHouse migration to a current ClickHouse engine (chDB).

The local server is Debian's 18.16; production runs a current release. The Go
migration tests cover 18.16, this covers today's engine, so a migration that
only one of them accepts fails `make test`.
"""
import pathlib
import re

import chdb
from chdb import session

MIGRATIONS = pathlib.Path(__file__).parent / "clickhouse"


def statements(sql):
    """Split like migrations.statements in Go: on semicolons ending a line."""
    out = []
    for part in re.split(r";\n", sql):
        part = part.strip().rstrip(";").strip()
        lines = [l for l in part.splitlines() if l.strip() and not l.strip().startswith("--")]
        if lines:
            out.append(part)
    return out


ADD_COLUMN = re.compile(r"^ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s+[^,]+$", re.I | re.S)


def apply_again(s, stmt):
    """Run stmt as migrations.ApplyClickHouse runs a file again: a column
    that one ALTER adds and that is there already counts as added (there is
    no ADD COLUMN IF NOT EXISTS on 18.16)."""
    try:
        s.query(stmt)
    except Exception as e:  # chdb raises a plain RuntimeError
        code = "\n".join(l for l in stmt.splitlines() if not l.strip().startswith("--")).strip()
        if not (ADD_COLUMN.match(code) and "already exists" in str(e)):
            raise


def test_migrations_apply_to_current_clickhouse(tmp_path):
    files = sorted(MIGRATIONS.glob("*.sql"))
    assert files, "no ClickHouse migrations found"
    s = session.Session(str(tmp_path / "chdb"))
    s.query("CREATE DATABASE footfall")
    s.query("USE footfall")
    for f in files:
        for stmt in statements(f.read_text()):
            s.query(stmt)
    # Applying again changes nothing and fails nowhere (IF NOT EXISTS).
    for f in files:
        for stmt in statements(f.read_text()):
            apply_again(s, stmt)
    cols = str(s.query("SELECT name FROM system.columns WHERE database = 'footfall' AND table = 'events'", "CSV"))
    for col in ("original_ts", "user_verified"):
        assert f'"{col}"' in cols, f"events has no {col} column"

    # The loader's column list inserts, and duplicates by id fold under FINAL.
    row = ("('0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e','search','','demo',"
           "toDateTime(1700000000),1700000000000,toDateTime(1700000001),'anon','','s1',"
           "'https://shop/','/','Home','','humidifier',-1,'','','','',0,'','',"
           "['k'],['v'],'en','UTC','1x1','','','','','','1.2.3.0','ua',0,'Chrome','Linux','desktop')")
    cols = ("id,type,name,site_id,time,ts,received_at,anonymous_id,user_id,session_id,"
            "page_url,page_path,page_title,page_referrer,search_keyword,search_results,"
            "click_selector,click_text,click_href,click_tag,scroll_depth,form_id,form_action,"
            "props.key,props.value,locale,tz,screen,utm_source,utm_medium,utm_campaign,utm_term,utm_content,"
            "ip,user_agent,bot,browser,os,device")
    s.query(f"INSERT INTO events ({cols}) VALUES {row}")
    s.query(f"INSERT INTO events ({cols}) VALUES {row}")
    got = s.query("SELECT count(), any(search_keyword) FROM events FINAL WHERE site_id = 'demo'", "CSV")
    assert str(got).strip() == '1,"humidifier"'
    # The rollup's view gives the event's rows their dimension, value and
    # sampling level (0 to 7) on this engine too.
    got = s.query("SELECT dimension, value, lvl <= 7, uniqMerge(visitors) FROM events_hourly "
                  "GROUP BY dimension, value, lvl ORDER BY dimension", "CSV")
    assert str(got).strip().splitlines() == ['"","",1,1', '"search","humidifier",1,1']
    s.close()


CLUSTER = pathlib.Path(__file__).parent / "clickhouse-cluster"
REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('[^']*',\s*'\{replica\}'(?:,\s*)?")


def test_cluster_schema_parses_and_matches_the_single_node_tables(tmp_path):
    """The cluster schema (footfall migrate --clickhouse-cluster) parses on a
    current ClickHouse, and its replicated tables, made local (the engine's
    replication arguments dropped, no ON CLUSTER, no Distributed tables),
    have the columns of the single-node tables, in order: a single-node
    migration without its cluster twin fails here."""
    s = session.Session(str(tmp_path / "chdb"))
    s.query("CREATE DATABASE single")
    s.query("USE single")
    for f in sorted(MIGRATIONS.glob("*.sql")):
        for stmt in statements(f.read_text()):
            s.query(stmt)
    s.query("CREATE DATABASE cluster")
    files = sorted(CLUSTER.glob("*.sql"))
    assert files, "no cluster migrations found"
    locals_ = []
    for f in files:
        for stmt in statements(f.read_text()):
            stmt = stmt.replace("${database}", "`cluster`").replace("${cluster}", "`footfall`")
            # Parses on this engine as written.
            s.query("SELECT formatQuery(%s)" % quote(stmt))
            if "ENGINE = Distributed(" in stmt:
                continue
            local = REPLICATED.sub(lambda m: m.group(1) + "(", stmt.replace(" ON CLUSTER `footfall`", ""))
            s.query(local)
            m = re.search(r"CREATE TABLE IF NOT EXISTS `cluster`\.(\w+)_local", local)
            if m:
                locals_.append(m.group(1))
    assert sorted(locals_) == ["events", "events_hourly", "logs", "sessions", "sessions_hourly"]
    for table in locals_:
        single = str(s.query(f"SELECT name, type FROM system.columns WHERE database = 'single' AND table = '{table}' ORDER BY position", "CSV"))
        clustered = str(s.query(f"SELECT name, type FROM system.columns WHERE database = 'cluster' AND table = '{table}_local' ORDER BY position", "CSV"))
        assert clustered == single, f"{table}: the cluster table's columns differ from the single node's"
    # The rollups' views compute the same on both: their queries, with the
    # cluster's table names read as the single node's, are equal.
    for view in ("events_hourly_mv", "sessions_hourly_mv"):
        def select(db):
            q = str(s.query(f"SELECT as_select FROM system.tables WHERE database = '{db}' AND name = '{view}'", "TSVRaw")).strip()
            return q.replace(f"{db}.", "").replace("_local", "")
        assert select("cluster") == select("single"), f"{view}: the cluster's view differs from the single node's"
    s.close()


def quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
