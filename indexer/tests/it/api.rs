//! Every endpoint through the router, and its error cases.

use crate::harness::{Db, Indexer, Net, Options, synced};
use crate::history;
use anyhow::{Context, Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tessera_indexer::model::addr;
use tower::ServiceExt;

pub(crate) async fn get_raw(
    router: &axum::Router,
    path: &str,
) -> Result<(StatusCode, String, String)> {
    let res = router
        .clone()
        .oneshot(Request::get(path).body(Body::empty())?)
        .await?;
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, ctype, String::from_utf8_lossy(&body).into_owned()))
}

pub(crate) async fn get_json(router: &axum::Router, path: &str, want: u16) -> Result<Value> {
    let (status, ctype, body) = get_raw(router, path).await?;
    ensure!(
        status.as_u16() == want,
        "GET {path}: status {status}, want {want}: {body}"
    );
    ensure!(
        ctype.starts_with("application/json"),
        "GET {path}: content type {ctype}"
    );
    serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON: {body}"))
}

async fn error(router: &axum::Router, path: &str, want: u16, mentions: &str) -> Result<()> {
    let v = get_json(router, path, want).await?;
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    ensure!(
        msg.contains(mentions),
        "GET {path}: message {msg:?} should mention {mentions:?}"
    );
    ensure!(v["error"]["code"].is_string(), "GET {path}: no error code");
    Ok(())
}

#[tokio::test]
async fn every_endpoint_answers_with_finality_and_rejects_bad_input() -> Result<()> {
    let net = Net::start().await?;
    let jobs = history::generate(&net).await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, Options::default()).await?;
    synced(&db.pool, &net).await?;
    let r = &ix.router;
    let head = net.head().await?.0;

    // Job list: newest first, filters, stable cursor pagination, meta on every answer.
    let all = get_json(r, "/v1/jobs", 200).await?;
    let ids: Vec<i64> = all["data"]
        .as_array()
        .context("data")?
        .iter()
        .map(|j| j["jobId"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(ids, vec![3, 2, 1]);
    assert_eq!(all["meta"]["indexedBlock"], json!(head));
    assert_eq!(all["meta"]["confirmedBlock"], json!(head - 2));
    assert_eq!(all["data"][2]["confirmed"], json!(true));
    let p1 = get_json(r, "/v1/jobs?limit=2", 200).await?;
    assert_eq!(p1["data"].as_array().map(Vec::len), Some(2));
    let cursor = p1["nextCursor"].as_str().context("nextCursor")?.to_owned();
    let p2 = get_json(r, &format!("/v1/jobs?limit=2&cursor={cursor}"), 200).await?;
    assert_eq!(p2["data"][0]["jobId"], 1);
    assert_eq!(p2["nextCursor"], Value::Null);
    let cancelled = get_json(r, "/v1/jobs?status=cancelled", 200).await?;
    assert_eq!(cancelled["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        cancelled["data"][0]["jobId"],
        json!(jobs.verified_only.to::<u64>())
    );
    let by_artist = get_json(
        r,
        &format!(
            "/v1/jobs?artist={}",
            addr(&net.artist.address).to_uppercase().replace("0X", "0x")
        ),
        200,
    )
    .await?;
    assert_eq!(
        by_artist["data"].as_array().map(Vec::len),
        Some(3),
        "address filters are case-insensitive"
    );
    let by_worker2 = get_json(
        r,
        &format!("/v1/jobs?worker={}", addr(&net.worker2.address)),
        200,
    )
    .await?;
    assert_eq!(by_worker2["data"].as_array().map(Vec::len), Some(3));
    let by_token = get_json(
        r,
        &format!("/v1/jobs?token={}", addr(&net.artist.address)),
        200,
    )
    .await?;
    assert_eq!(by_token["data"].as_array().map(Vec::len), Some(0));

    // Job detail with tasks and history; tasks and events paging.
    let a = get_json(r, "/v1/jobs/1?tasks=2&events=3", 200).await?;
    assert_eq!(
        a["data"]["job"]["sceneCid"],
        "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"
    );
    assert_eq!(a["data"]["job"]["settings"]["cellSize"], 16);
    assert_eq!(a["data"]["tasks"].as_array().map(Vec::len), Some(2));
    assert_eq!(a["data"]["tasksNextCursor"], "1");
    assert_eq!(a["data"]["history"].as_array().map(Vec::len), Some(3));
    assert_eq!(a["data"]["tasks"][0]["state"], "paid");
    assert_eq!(a["data"]["tasks"][0]["payReason"], "verified");
    let rest = get_json(r, "/v1/jobs/1/tasks?cursor=1", 200).await?;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["data"][0]["taskIndex"], 2);
    assert_eq!(rest["data"][0]["timesExpired"], 1);
    let open = get_json(r, "/v1/jobs/1/tasks?state=open", 200).await?;
    assert_eq!(
        open["data"].as_array().map(Vec::len),
        Some(2),
        "task 2 reopened and task 3 never claimed"
    );
    let refunded = get_json(r, "/v1/jobs/2/tasks?state=refunded", 200).await?;
    assert_eq!(refunded["data"][0]["taskIndex"], 1);
    assert_eq!(
        refunded["data"][0]["refundReason"], "cancelled",
        "an open task of a cancelled job reads as refunded"
    );
    let t = get_json(r, "/v1/jobs/2/tasks/0", 200).await?;
    assert_eq!(t["data"]["task"]["timesRejected"], 1);
    assert_eq!(t["data"]["task"]["payReason"], "accepted_by_artist");
    assert_eq!(t["data"]["task"]["rejectReason"], "verdict");
    let first = &t["data"]["verification"]["draws"][0];
    assert_eq!(first["attempt"], 0);
    assert_eq!(first["members"][0]["approve"], false);
    assert_eq!(first["tally"]["verdict"], "reject");
    assert_eq!(first["members"][0]["coherent"], true);
    let events = get_json(r, "/v1/jobs/2/events?limit=2", 200).await?;
    assert_eq!(events["data"][0]["event"], "JobCancelled");
    let older = get_json(
        r,
        &format!(
            "/v1/jobs/2/events?cursor={}",
            events["nextCursor"].as_str().context("cursor")?
        ),
        200,
    )
    .await?;
    assert!(older["data"][0]["seq"].as_i64() < events["data"][1]["seq"].as_i64());

    // Open tasks for workers.
    let open = get_json(r, "/v1/tasks/open", 200).await?;
    let keys: Vec<(i64, i64)> = open["data"]
        .as_array()
        .context("data")?
        .iter()
        .map(|t| {
            (
                t["jobId"].as_i64().unwrap_or(0),
                t["taskIndex"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(keys, vec![(1, 2), (1, 3)]);
    assert_eq!(
        open["data"][0]["job"]["rewardPerTask"],
        json!(crate::harness::REWARD.to_string())
    );
    assert_eq!(
        get_json(r, "/v1/tasks/open?renderer=other/1", 200).await?["data"],
        json!([])
    );
    assert_eq!(
        get_json(r, "/v1/tasks/open?min_reward=1000000000000000000", 200).await?["data"],
        json!([])
    );
    let page = get_json(r, "/v1/tasks/open?limit=1", 200).await?;
    let next = get_json(
        r,
        &format!(
            "/v1/tasks/open?limit=1&cursor={}",
            page["nextCursor"].as_str().context("cursor")?
        ),
        200,
    )
    .await?;
    assert_eq!(next["data"][0]["taskIndex"], 3);

    // Accounts, network, ops.
    let w = get_json(
        r,
        &format!("/v1/workers/{}", addr(&net.worker.address)),
        200,
    )
    .await?;
    assert_eq!(w["data"]["tasksCompleted"], 1);
    assert_eq!(w["data"]["tasksRejected"], 1);
    assert_eq!(w["data"]["tasksExpired"], 1);
    let rep = w["data"]["reputation"].as_f64().context("reputation")?;
    assert!(
        rep > 0.0 && rep < 0.5,
        "1 success in 3: low Wilson bound, got {rep}"
    );
    // The worker list: accounts that claimed a task, most completed first, each with the record its own
    // endpoint gives; a page of one, then the rest from its cursor.
    let all = get_json(r, "/v1/workers?limit=100", 200).await?;
    let all = all["data"].as_array().context("data")?.clone();
    assert!(
        all.contains(&w["data"]),
        "the worker is listed as its endpoint shows it"
    );
    assert!(all.iter().all(|x| x["tasksClaimed"].as_i64() > Some(0)));
    let done: Vec<i64> = all
        .iter()
        .filter_map(|x| x["tasksCompleted"].as_i64())
        .collect();
    assert!(
        done.windows(2).all(|p| p[0] >= p[1]),
        "most completed first: {done:?}"
    );
    let first = get_json(r, "/v1/workers?limit=1", 200).await?;
    assert_eq!(first["data"][0], all[0]);
    let rest = get_json(
        r,
        &format!(
            "/v1/workers?cursor={}",
            first["nextCursor"].as_str().context("a next page")?
        ),
        200,
    )
    .await?;
    assert_eq!(rest["data"].as_array().context("data")?[..], all[1..]);
    get_json(r, "/v1/workers?limit=101", 400).await?;
    for bad in [
        "-1",
        "12",
        "3-0x12",
        "x-0x0000000000000000000000000000000000000000",
    ] {
        get_json(r, &format!("/v1/workers?cursor={bad}"), 400).await?;
    }
    let v = get_json(
        r,
        &format!("/v1/verifiers/{}", addr(&net.verifier.address)),
        200,
    )
    .await?;
    assert_eq!(v["data"]["registration"]["tickets"], 4);
    assert_eq!(v["data"]["registration"]["status"], "active");
    assert_eq!(v["data"]["stake"]["unbonding"], "1000");
    let v2 = get_json(
        r,
        &format!("/v1/verifiers/{}", addr(&net.verifier2.address)),
        200,
    )
    .await?;
    let served = |v: &Value, what: &str| v["data"]["service"][what].as_i64().unwrap_or(-1);
    assert_eq!(
        served(&v, "draws") + served(&v2, "draws"),
        2,
        "two one-seat committees"
    );
    assert_eq!(
        served(&v, "votesRevealed") + served(&v2, "votesRevealed"),
        2
    );
    assert_eq!(served(&v, "slashes") + served(&v2, "slashes"), 0);
    assert_eq!(
        v["data"]["confirmed"],
        json!(false),
        "unbonding was requested in the head block"
    );
    let n = get_json(r, "/v1/network", 200).await?;
    assert_eq!(n["data"]["workers"], 2);
    assert_eq!(n["data"]["verifiers"], 2);
    assert_eq!(n["data"]["draws"], 2);
    assert_eq!(n["data"]["votes"], 2);
    assert_eq!(n["data"]["appeals"], 1);
    assert_eq!(get_json(r, "/health", 200).await?["status"], "ok");
    let ready = get_json(r, "/ready", 200).await?;
    assert_eq!(ready["lag"], 0);
    let (status, ctype, metrics) = get_raw(r, "/metrics").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain"));
    assert!(
        metrics.contains("tessera_indexer_indexed_block"),
        "{metrics}"
    );
    let doc = get_json(r, "/openapi.json", 200).await?;
    // The web app's API types are generated from a committed copy of this document (web/openapi.json;
    // scripts/test.sh checks web/src/generated/api.ts against the copy): the copy must be what is served.
    // TESSERA_UPDATE_OPENAPI=1 rewrites it.
    let copy = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/openapi.json");
    if std::env::var_os("TESSERA_UPDATE_OPENAPI").is_some() {
        std::fs::write(copy, serde_json::to_string_pretty(&doc)? + "\n")?;
    }
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(copy)?)?;
    assert!(
        committed == doc,
        "web/openapi.json is not the document the indexer serves: run `TESSERA_UPDATE_OPENAPI=1 cargo test -p \
         tessera-indexer --test it`, then `npm run gen:api` in web/, and commit both"
    );
    for path in [
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/tasks/open",
        "/v1/stream",
        "/v1/workers",
        "/v1/workers/{address}",
        "/v1/verifiers/{address}",
        "/v1/jobs/{job_id}/tasks/{task_index}",
        "/ready",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "OpenAPI document lacks {path}"
        );
    }

    // Cached answers last only as long as the sync state they were computed under.
    let first = get_raw(r, "/v1/network").await?;
    assert_eq!(
        get_raw(r, "/v1/network").await?.2,
        first.2,
        "an unchanged state gives the same answer"
    );
    tessera_devnet::mined(
        net.at(&net.worker)
            .stake()
            .value(alloy::primitives::U256::from(7u64)),
    )
    .await?;
    synced(&db.pool, &net).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let v: Value = serde_json::from_str(&get_raw(r, "/v1/network").await?.2)?;
        if v["meta"]["indexedBlock"] == json!(head + 1) {
            assert_ne!(
                v["data"]["staked"],
                serde_json::from_str::<Value>(&first.2)?["data"]["staked"]
            );
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "a cached answer outlived the state change: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Errors: clear 4xx with a JSON body naming the problem.
    error(r, "/v1/jobs?limit=0", 400, "limit").await?;
    error(r, "/v1/jobs?limit=501", 400, "limit").await?;
    error(r, "/v1/jobs?artist=0x123", 400, "artist").await?;
    error(r, "/v1/jobs?status=done", 400, "status").await?;
    error(r, "/v1/jobs?cursor=abc", 400, "cursor").await?;
    error(r, "/v1/jobs?colour=red", 400, "colour").await?;
    error(r, "/v1/jobs/99", 404, "job 99").await?;
    error(r, "/v1/jobs/-1", 400, "job_id").await?;
    error(r, "/v1/jobs/abc", 400, "path").await?;
    error(r, "/v1/jobs/1/tasks/9", 404, "task 1/9").await?;
    error(r, "/v1/jobs/99/tasks", 404, "job 99").await?;
    error(r, "/v1/tasks/open?min_reward=1e18", 400, "min_reward").await?;
    error(r, "/v1/tasks/open?cursor=7", 400, "cursor").await?;
    error(
        r,
        &format!("/v1/workers/{}", addr(&net.artist.address)),
        404,
        "no worker",
    )
    .await?;
    error(r, "/v1/verifiers/nothex", 400, "address").await?;
    error(
        r,
        &format!("/v1/verifiers/{}", addr(&net.artist.address)),
        404,
        "no verifier",
    )
    .await?;
    error(r, "/v1/stream?after=-4", 400, "after").await?;
    // Text Postgres cannot hold (found by schemathesis: a 500 before): a renderer id with a NUL names no job.
    let none = get_json(r, "/v1/tasks/open?renderer=a%00b", 200).await?;
    assert_eq!(none["data"].as_array().map(Vec::len), Some(0), "{none}");
    error(r, "/nope", 404, "no such endpoint").await?;
    ix.stop().await
}

#[tokio::test]
async fn the_stream_delivers_every_event_in_order_and_resumes() -> Result<()> {
    let net = Net::start().await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(&db, &net.rpc_url(), &net, Options::default()).await?;
    synced(&db.pool, &net).await?;
    let res = ix
        .router
        .clone()
        .oneshot(Request::get("/v1/stream?after=0").body(Body::empty())?)
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    history::generate(&net).await?;
    synced(&db.pool, &net).await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM logs")
        .fetch_one(&db.pool)
        .await?;
    let mut seen = Vec::new();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while i64::try_from(seen.len())? < total {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .context("stream stalled")?
            .context("stream ended")??;
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let msg: String = text.drain(..end + 2).collect();
            if let Some(id) = msg.lines().find_map(|l| l.strip_prefix("id: ")) {
                seen.push(id.parse::<i64>()?);
            }
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ids strictly increase"
    );
    // Resuming after the 5th event with Last-Event-ID yields the 6th next.
    let res = ix
        .router
        .clone()
        .oneshot(
            Request::get("/v1/stream")
                .header("last-event-id", seen[4].to_string())
                .body(Body::empty())?,
        )
        .await?;
    let mut body = res.into_body();
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await?
            .context("ended")??;
        if let Ok(d) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&d));
        }
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("id: ")) {
            assert_eq!(id.parse::<i64>()?, seen[5]);
            break;
        }
    }
    ix.stop().await
}

/// Live streams are capped apart from connections: beyond `max_streams` a stream is answered 503, and a slot
/// frees when a stream ends.
#[tokio::test]
async fn live_streams_beyond_their_cap_are_refused_until_one_ends() -> Result<()> {
    let net = Net::start().await?;
    let db = Db::fresh().await?;
    let ix = Indexer::start(
        &db,
        &net.rpc_url(),
        &net,
        Options {
            max_streams: 2,
            ..Options::default()
        },
    )
    .await?;
    synced(&db.pool, &net).await?;
    let open = || async {
        ix.router
            .clone()
            .oneshot(Request::get("/v1/stream").body(Body::empty())?)
            .await
            .map_err(anyhow::Error::from)
    };
    let first = open().await?;
    let second = open().await?;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = open().await?;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(first);
    let fourth = open().await?;
    assert_eq!(
        fourth.status(),
        StatusCode::OK,
        "a slot freed when a stream ended"
    );
    drop((second, fourth));
    ix.stop().await
}
