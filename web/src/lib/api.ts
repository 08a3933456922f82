// The indexer's REST API, typed from its OpenAPI document (web/openapi.json, the document the indexer
// serves; src/generated/api.ts is generated from it and both are checked in CI).

import type { components, paths } from '../generated/api';

export type Job = components['schemas']['Job'];
export type Task = components['schemas']['Task'];
export type Meta = components['schemas']['Meta'];
export type Network = components['schemas']['Network'];
export type Worker = components['schemas']['Worker'];
export type JobStatus = components['schemas']['JobStatus'];
export type TaskDetail = components['schemas']['TaskDetail'];
export type Event = components['schemas']['Event'];

type Get<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer R } } } } }
  ? R
  : never;

/** An answer that is not the data asked for, with the indexer's own words when it gave some. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class Api {
  constructor(readonly base: string) {}

  private async get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    // Relative to the base, so that an indexer served under a path (https://host/indexer) works.
    const url = new URL(path.replace(/^\//, ''), `${this.base}/`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    let resp: Response;
    try {
      resp = await fetch(url, { headers: { accept: 'application/json' } });
    } catch (e) {
      throw new ApiError(`the indexer at ${this.base} cannot be reached (${(e as Error).message})`, 0);
    }
    if (!resp.ok) {
      let why = resp.statusText;
      try {
        const body = (await resp.json()) as components['schemas']['ErrorBody'];
        why = body.error?.message ?? why;
      } catch {
        // not JSON: keep the status text
      }
      throw new ApiError(`${url.pathname}: ${why} (HTTP ${resp.status})`, resp.status);
    }
    return (await resp.json()) as T;
  }

  jobs(query: { status?: JobStatus; artist?: string; worker?: string; token?: string; limit?: number; cursor?: string }) {
    return this.get<Get<'/v1/jobs'>>('/v1/jobs', query);
  }

  job(id: number) {
    return this.get<Get<'/v1/jobs/{job_id}'>>(`/v1/jobs/${id}`);
  }

  /** Every task of the job (all pages). */
  async tasks(id: number): Promise<{ tasks: Task[]; meta: Meta }> {
    const tasks: Task[] = [];
    let cursor: string | undefined;
    let meta: Meta | undefined;
    do {
      const page = await this.get<Get<'/v1/jobs/{job_id}/tasks'>>(`/v1/jobs/${id}/tasks`, { limit: 500, cursor });
      tasks.push(...page.data);
      meta = page.meta;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return { tasks, meta };
  }

  /** The job's latest `limit` events, newest first (the first page of `/v1/jobs/{id}/events`). */
  events(id: number, limit = 500) {
    return this.get<Get<'/v1/jobs/{job_id}/events'>>(`/v1/jobs/${id}/events`, { limit });
  }

  task(id: number, index: number) {
    return this.get<Get<'/v1/jobs/{job_id}/tasks/{task_index}'>>(`/v1/jobs/${id}/tasks/${index}`);
  }

  /** Workers, most tasks completed first: a page of `limit` (1..=100) from `cursor`. */
  workers(query: { limit?: number; cursor?: string } = {}) {
    return this.get<Get<'/v1/workers'>>('/v1/workers', query);
  }

  network() {
    return this.get<Get<'/v1/network'>>('/v1/network');
  }
}
