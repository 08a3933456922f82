//! Jobs, their tasks and events, and the open tasks workers pick from.

use super::{
    ApiError, AppState, Event, EventsPage, Job, JobDetail, JobResponse, JobsPage, OpenTask,
    OpenTasksPage, P, Q, Task, TaskDetail, TaskResponse, TasksPage, Verification, meta,
};
use crate::store::read::{self, JobFilter, OpenFilter};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/jobs", get(list_jobs))
        .route("/v1/jobs/{job_id}", get(get_job))
        .route("/v1/jobs/{job_id}/tasks", get(job_tasks))
        .route("/v1/jobs/{job_id}/tasks/{task_index}", get(get_task))
        .route("/v1/jobs/{job_id}/events", get(job_events))
        .route("/v1/tasks/open", get(open_tasks))
}

/// Largest page.
pub(crate) const MAX_LIMIT: i64 = 500;
const DEFAULT_LIMIT: i64 = 50;

pub(crate) fn limit(v: Option<i64>) -> Result<i64, ApiError> {
    limit_within(v, MAX_LIMIT)
}

/// A page size of 1..=`max`, 50 when none is given.
pub(crate) fn limit_within(v: Option<i64>, max: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(DEFAULT_LIMIT.min(max)),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {max}, got {n}"
        ))),
    }
}

/// A `0x` + 40 hex digit address, lowercased.
pub(crate) fn address(name: &str, v: &str) -> Result<String, ApiError> {
    if v.len() == 42 && v.starts_with("0x") && v[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(ApiError::BadRequest(format!(
            "{name} must be a 0x-prefixed 20-byte hex address, got {v:?}"
        )))
    }
}

fn id(name: &str, v: i64) -> Result<i64, ApiError> {
    if v >= 0 {
        Ok(v)
    } else {
        Err(ApiError::BadRequest(format!(
            "{name} must be >= 0, got {v}"
        )))
    }
}

fn cursor_int(v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(digits).transpose()
}

/// A cursor this API issued: decimal digits (values past i64 saturate: nothing lies beyond them).
fn digits(c: &str) -> Result<i64, ApiError> {
    if !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) {
        Ok(c.parse::<i64>().unwrap_or(i64::MAX))
    } else {
        Err(ApiError::BadRequest(format!(
            "cursor {c:?} is not a cursor this API issued"
        )))
    }
}

/// Filters and paging of the job list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobsQuery {
    /// `active`, `finished` or `cancelled`.
    status: Option<crate::model::JobStatus>,
    /// Jobs posted by this address.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    artist: Option<String>,
    /// Jobs in which this address claimed a task.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    worker: Option<String>,
    /// Jobs paying in this token (zero address: ETH).
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    token: Option<String>,
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]+$")]
    cursor: Option<String>,
}

/// Lists jobs, newest first. Pages are keyed by job id, so they stay stable when a reorg adds or removes jobs.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(JobsQuery),
    responses((status = 200, body = JobsPage), (status = 400, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn list_jobs(
    State(s): State<AppState>,
    Q(q): Q<JobsQuery>,
) -> Result<Json<JobsPage>, ApiError> {
    let limit = limit(q.limit)?;
    let filter = JobFilter {
        status: q.status.map(|s| s.as_str().to_owned()),
        artist: q
            .artist
            .as_deref()
            .map(|a| address("artist", a))
            .transpose()?,
        worker: q
            .worker
            .as_deref()
            .map(|a| address("worker", a))
            .transpose()?,
        token: q
            .token
            .as_deref()
            .map(|a| address("token", a))
            .transpose()?,
    };
    let before = cursor_int(q.cursor.as_deref())?;
    let (meta, st) = meta(&s).await?;
    let rows = read::jobs(&s.pool, &filter, before, limit).await?;
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| rows.last().map(|j| j.job_id.to_string()))
        .flatten();
    let confirmed = st.confirmed_block();
    Ok(Json(JobsPage {
        data: rows.into_iter().map(|j| Job::new(j, confirmed)).collect(),
        next_cursor,
        meta,
    }))
}

/// Paging of a job's detail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetailQuery {
    /// How many tasks to include, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    tasks: Option<i64>,
    /// How many recent events to include, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    events: Option<i64>,
}

/// One job with its first tasks and latest events.
#[utoipa::path(get, path = "/v1/jobs/{job_id}", tag = "jobs",
    params(("job_id" = i64, Path, description = "Job id", minimum = 0), DetailQuery),
    responses((status = 200, body = JobResponse), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn get_job(
    State(s): State<AppState>,
    P(job_id): P<i64>,
    Q(q): Q<DetailQuery>,
) -> Result<Json<JobResponse>, ApiError> {
    let job_id = id("job_id", job_id)?;
    let (task_limit, event_limit) = (limit(q.tasks)?, limit(q.events)?);
    let (meta, st) = meta(&s).await?;
    let job = read::job(&s.pool, job_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {job_id} is not indexed")))?;
    let tasks = read::tasks(&s.pool, job_id, None, None, task_limit).await?;
    let history = read::job_events(&s.pool, job_id, None, event_limit).await?;
    let confirmed = st.confirmed_block();
    let tasks_next_cursor = (tasks.len() == usize::try_from(task_limit).unwrap_or(0))
        .then(|| tasks.last().map(|t| t.task_index.to_string()))
        .flatten();
    let history_next_cursor = (history.len() == usize::try_from(event_limit).unwrap_or(0))
        .then(|| history.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(JobResponse {
        data: JobDetail {
            job: Job::new(job, confirmed),
            tasks: tasks
                .into_iter()
                .map(|t| Task::new(t, confirmed, st.head_timestamp))
                .collect(),
            tasks_next_cursor,
            history: history
                .into_iter()
                .map(|e| Event::new(e, confirmed))
                .collect(),
            history_next_cursor,
        },
        meta,
    }))
}

/// Filters and paging of a job's tasks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TasksQuery {
    /// Only tasks in this state.
    state: Option<crate::model::TaskStatus>,
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]+$")]
    cursor: Option<String>,
}

async fn job_exists(s: &AppState, job_id: i64) -> Result<(), ApiError> {
    read::job(&s.pool, job_id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("job {job_id} is not indexed")))
}

/// A job's tasks in index order.
#[utoipa::path(get, path = "/v1/jobs/{job_id}/tasks", tag = "tasks",
    params(("job_id" = i64, Path, description = "Job id", minimum = 0), TasksQuery),
    responses((status = 200, body = TasksPage), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn job_tasks(
    State(s): State<AppState>,
    P(job_id): P<i64>,
    Q(q): Q<TasksQuery>,
) -> Result<Json<TasksPage>, ApiError> {
    let job_id = id("job_id", job_id)?;
    let limit = limit(q.limit)?;
    let after = cursor_int(q.cursor.as_deref())?;
    let state = q.state.map(|s| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    let (meta, st) = meta(&s).await?;
    job_exists(&s, job_id).await?;
    let rows = read::tasks(&s.pool, job_id, state.as_deref(), after, limit).await?;
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| rows.last().map(|t| t.task_index.to_string()))
        .flatten();
    let confirmed = st.confirmed_block();
    Ok(Json(TasksPage {
        data: rows
            .into_iter()
            .map(|t| Task::new(t, confirmed, st.head_timestamp))
            .collect(),
        next_cursor,
        meta,
    }))
}

/// One task with its verification: every committee drawn for it (members and seats, votes once revealed,
/// tallies), every appeal and data challenge, with their deadlines; the current phase and its end are on the task.
#[utoipa::path(get, path = "/v1/jobs/{job_id}/tasks/{task_index}", tag = "tasks",
    params(("job_id" = i64, Path, description = "Job id", minimum = 0), ("task_index" = i64, Path, description = "Task index", minimum = 0)),
    responses((status = 200, body = TaskResponse), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn get_task(
    State(s): State<AppState>,
    P((job_id, task_index)): P<(i64, i64)>,
) -> Result<Json<TaskResponse>, ApiError> {
    let job_id = id("job_id", job_id)?;
    let task_index = id("task_index", task_index)?;
    let (meta, st) = meta(&s).await?;
    let task = read::tasks(&s.pool, job_id, None, Some(task_index - 1), 1)
        .await?
        .into_iter()
        .find(|t| t.task_index == task_index)
        .ok_or_else(|| ApiError::NotFound(format!("task {job_id}/{task_index} is not indexed")))?;
    let records = read::verification(&s.pool, job_id, task_index).await?;
    let confirmed = st.confirmed_block();
    Ok(Json(TaskResponse {
        data: TaskDetail {
            task: Task::new(task, confirmed, st.head_timestamp),
            verification: Verification::new(records, confirmed),
        },
        meta,
    }))
}

/// Paging of a job's events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]+$")]
    cursor: Option<String>,
}

/// A job's events, newest first.
#[utoipa::path(get, path = "/v1/jobs/{job_id}/events", tag = "jobs",
    params(("job_id" = i64, Path, description = "Job id", minimum = 0), EventsQuery),
    responses((status = 200, body = EventsPage), (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn job_events(
    State(s): State<AppState>,
    P(job_id): P<i64>,
    Q(q): Q<EventsQuery>,
) -> Result<Json<EventsPage>, ApiError> {
    let job_id = id("job_id", job_id)?;
    let limit = limit(q.limit)?;
    let before = cursor_int(q.cursor.as_deref())?;
    let (meta, st) = meta(&s).await?;
    job_exists(&s, job_id).await?;
    let rows = read::job_events(&s.pool, job_id, before, limit).await?;
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| rows.last().map(|e| e.seq.to_string()))
        .flatten();
    let confirmed = st.confirmed_block();
    Ok(Json(EventsPage {
        data: rows.into_iter().map(|e| Event::new(e, confirmed)).collect(),
        next_cursor,
        meta,
    }))
}

/// Filters and paging of the open-task list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenQuery {
    /// Only jobs for this renderer id (e.g. `tessera-pt/0.1`).
    renderer: Option<String>,
    /// Only jobs paying in this token.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    token: Option<String>,
    /// Only jobs paying at least this reward per task (decimal integer).
    #[param(pattern = "^[0-9]{1,78}$")]
    min_reward: Option<String>,
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]+\\.[0-9]+$")]
    cursor: Option<String>,
}

/// Claimable tasks (open, job neither cancelled nor past its deadline at the head's time), with their job.
#[utoipa::path(get, path = "/v1/tasks/open", tag = "tasks", params(OpenQuery),
    responses((status = 200, body = OpenTasksPage), (status = 400, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub(crate) async fn open_tasks(
    State(s): State<AppState>,
    Q(q): Q<OpenQuery>,
) -> Result<Json<OpenTasksPage>, ApiError> {
    let limit = limit(q.limit)?;
    let min_reward = q
        .min_reward
        .map(|m| {
            if !m.is_empty() && m.len() <= 78 && m.bytes().all(|b| b.is_ascii_digit()) {
                Ok(m)
            } else {
                Err(ApiError::BadRequest(format!(
                    "min_reward must be a decimal integer (wei), got {m:?}"
                )))
            }
        })
        .transpose()?;
    let after = match q.cursor.as_deref() {
        None => (-1, -1),
        Some(c) => match c.split_once('.') {
            Some((j, t)) => (digits(j)?, digits(t)?),
            None => {
                return Err(ApiError::BadRequest(format!(
                    "cursor {c:?} is not a cursor this API issued"
                )));
            }
        },
    };
    let filter = OpenFilter {
        renderer: q.renderer,
        token: q
            .token
            .as_deref()
            .map(|a| address("token", a))
            .transpose()?,
        min_reward,
    };
    let (meta, st) = meta(&s).await?;
    // A renderer id with a NUL names no job (Postgres text cannot hold one, and refuses it in a query).
    let rows = if filter.renderer.as_deref().is_some_and(|r| r.contains('\0')) {
        Vec::new()
    } else {
        read::open_tasks(&s.pool, &filter, st.head_timestamp, after, limit).await?
    };
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| {
            rows.last()
                .map(|(t, _)| format!("{}.{}", t.job_id, t.task_index))
        })
        .flatten();
    let confirmed = st.confirmed_block();
    Ok(Json(OpenTasksPage {
        data: rows
            .into_iter()
            .map(|(t, j)| OpenTask {
                job_id: t.job_id,
                task_index: t.task_index,
                attempt: t.attempt,
                job: Job::new(j, confirmed),
            })
            .collect(),
        next_cursor,
        meta,
    }))
}
