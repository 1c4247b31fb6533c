import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { TemplateId } from '#schema/permissions.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced } from '../helpers/clients.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { overTheWire, type Reply } from '../helpers/fixture.ts';
import { cookieOf, createToken, PASSPHRASE, postJson } from '../helpers/users.ts';

const cleanup = cleanupAfterEach();

/** Who walks the job: an account holding ONLY one template, the project's admin, or a stakeholder with no account. */
type Who = TemplateId | 'admin' | 'no account';
/** The secrets the sample's integrations name: production holds them before content goes there. */
const SECRETS = ['ORDERS_API_TOKEN', 'HELPDESK_API_KEY'];

/**
 * A five-stage sample project, the admin's calls, and the persona's calls (invited with its
 * template through the API).
 */
async function world(who: Who, preset = 'five-stage') {
  const server = await testServer(cleanup);
  const url = server.url;
  const adminToken = (await setupAdmin(url)).token;
  const admin = overTheWire(url, adminToken);
  const { body: p } = await admin.call<{
    id: string;
    environments: { id: string; draftId?: string }[];
  }>('POST', '/api/projects', { name: 'Release day', sample: true, preset });
  const stages = p.environments.map((e) => e.id);
  const [dev, test, uat, staging, prod] = stages as [string, string, string, string, string];
  let token = adminToken;
  if (who === 'no account') token = '';
  else if (who !== 'admin') {
    const { status: invited, body: inv } = await admin.call<{ token: string }>(
      'POST',
      '/api/invitations',
      { email: `${who}@example.com`, name: `A ${who}`, projectId: p.id, template: who },
    );
    expect(invited).toBe(201);
    const accepted = await postJson(
      `${url}/api/invitations/${inv.token}/accept`,
      { password: PASSPHRASE },
      { origin: url },
    );
    expect(accepted.status).toBe(201);
    token = await createToken(url, cookieOf(accepted)!);
  }
  const me = overTheWire(url, token);
  return {
    url,
    admin,
    adminToken,
    me,
    token,
    projectId: p.id,
    stages,
    devDraftId: p.environments[0]!.draftId!,
    dev,
    test,
    uat,
    staging,
    prod,
  };
}
type World = Awaited<ReturnType<typeof world>>;

/** The admin moves DEV's content along, Sync by Sync, until `to` holds it (`live`: published). */
async function adminMoves(w: World, to: 'test' | 'uat' | 'staging' | 'prod' | 'live') {
  const stop = { test: 1, uat: 2, staging: 3, prod: 4, live: 4 }[to];
  if (stop === 4)
    for (const s of SECRETS)
      await w.admin.ok('PUT', `/api/environments/${w.prod}/secrets/${s}`, {
        value: `${s.toLowerCase()}-value`,
      });
  for (const e of [w.dev, w.test, w.uat, w.staging].slice(0, stop))
    await w.admin.ok('POST', `/api/environments/${e}/sync`, {});
  if (to === 'live') await w.admin.ok('POST', `/api/environments/${w.prod}/publish`, {});
}

/** The admin writes a new version into DEV, so there is something to move again. */
async function adminEditsDev(w: World, refund: string) {
  const next = sampleContent();
  next.variables.var_max_refund!.defaultValue = refund;
  await w.admin.ok('PUT', `/api/environments/${w.dev}/content`, next);
}

/** Types into a draft with a stock y-websocket client holding `token`; resolves once the server holds the text. */
async function type(w: World, token: string, draftId: string, text: string): Promise<void> {
  const c = connect(w.url, draftId, { token });
  cleanup.push(() => c.destroy());
  await synced(c);
  itemText(sectionMap(c.doc, 'channels').get('ch_widget'), 'greeting')!.insert(0, text);
  await expect
    .poll(async () =>
      JSON.stringify(
        (await w.admin.call('GET', `/api/diff?from=env:${w.test}&to=draft:${draftId}`)).body,
      ),
    )
    .toContain(text);
}

/** A one-approval gate on `target` and a request into it by the admin: the persona's to judge. Returns the request. */
async function adminRequests(
  w: World,
  source: string,
  target: string,
): Promise<{ id: string; snapshotId: string }> {
  await w.admin.ok('PUT', `/api/environments/${target}/gate`, {
    requiredApprovals: 1,
    allowSelfApproval: false,
  });
  return w.admin.ok('POST', `/api/environments/${source}/requests`, { message: 'Ready for you' });
}

const liveOf = async (w: World) =>
  (
    await w.admin.ok<{ environments: { liveSnapshotId?: string | null }[] }>(
      'GET',
      `/api/projects/${w.projectId}`,
    )
  ).environments[4]!.liveSnapshotId!;

interface Step {
  does: string;
  run: (w: World) => Promise<unknown>;
}
interface Persona {
  persona: string;
  who: Who;
  /** The five-stage preset unless said (then the steps use `stages`). */
  preset?: 'three-stage';
  /**
   * The job, in order. Steps run with the persona's credentials and must succeed;
   * `adminMoves`/`adminRequests` arrange what others do between them.
   */
  job: Step[];
  /** One thing outside the job, refused (so a too-broad template fails the test). */
  refused: { does: string; status: number; run: (w: World) => Promise<Reply<unknown>> };
}

/** The personas of PRODUCT.md ("Who uses it") and their jobs, through the HTTP API and a stock y-websocket client. */
const PERSONAS: Persona[] = [
  {
    persona: 'developer',
    who: 'developer',
    job: [
      {
        does: 'co-edits the DEV draft',
        run: (w) => type(w, w.token, w.devDraftId, 'Hello from DEV. '),
      },
      {
        does: 'sees what a Sync would move to TEST',
        run: (w) => w.me.ok('GET', `/api/diff?from=env:${w.test}&to=env:${w.dev}`),
      },
      {
        does: 'Syncs DEV → TEST',
        run: (w) => w.me.ok('POST', `/api/environments/${w.dev}/sync`, {}),
      },
      {
        does: 'reads TEST and its history',
        run: async (w) => [
          await w.me.ok('GET', `/api/environments/${w.test}/content`),
          await w.me.ok('GET', `/api/environments/${w.test}/history`),
        ],
      },
      {
        does: 'sees a hotfix of production on the board and applies it to DEV',
        run: async (w) => {
          await adminMoves(w, 'live');
          const { draftId } = await w.admin.ok<{ draftId: string }>(
            'POST',
            `/api/environments/${w.prod}/hotfix`,
          );
          await type(w, w.adminToken, draftId, 'URGENT: store closed today. ');
          await w.admin.ok('POST', `/api/environments/${w.prod}/hotfix/publish`, {
            message: 'store closed',
          });
          const board = await w.me.ok<{ divergence: unknown[] }>(
            'GET',
            `/api/projects/${w.projectId}/board`,
          );
          expect(board.divergence).toHaveLength(1);
          expect(
            (
              await w.me.ok<{ divergence: unknown[] }>(
                'GET',
                `/api/environments/${w.prod}/divergence`,
              )
            ).divergence,
          ).toEqual(board.divergence);
          expect(
            (
              await w.me.ok<{ applied: number }>(
                'POST',
                `/api/environments/${w.prod}/hotfix/apply-to-dev`,
              )
            ).applied,
          ).toBe(1);
          expect(
            (await w.me.ok<{ divergence: unknown[] }>('GET', `/api/projects/${w.projectId}/board`))
              .divergence,
          ).toEqual([]);
        },
      },
    ],
    refused: {
      does: 'Sync TEST → UAT (QA’s job)',
      status: 403,
      run: (w) => w.me.call('POST', `/api/environments/${w.test}/sync`, {}),
    },
  },
  {
    persona: 'QA / tester',
    who: 'qa',
    job: [
      {
        does: 'reads the DEV draft',
        run: (w) => w.me.ok('GET', `/api/environments/${w.dev}/content`),
      },
      {
        does: 'approves a Sync into TEST',
        run: async (w) => {
          const req = await adminRequests(w, w.dev, w.test);
          await w.me.ok(
            'GET',
            `/api/diff?from=env:${w.test}&to=snapshot:${req.snapshotId}&project=${w.projectId}`,
          );
          await w.me.ok('POST', `/api/requests/${req.id}/approve`, { comment: 'Checks pass' });
          await adminMoves(w, 'test');
        },
      },
      {
        does: 'reads TEST and checks its problems',
        run: async (w) => [
          await w.me.ok('GET', `/api/environments/${w.test}/content`),
          await w.me.ok('GET', `/api/environments/${w.test}/problems`),
        ],
      },
      {
        does: 'Syncs TEST → UAT',
        run: (w) => w.me.ok('POST', `/api/environments/${w.test}/sync`, {}),
      },
      { does: 'reads UAT', run: (w) => w.me.ok('GET', `/api/environments/${w.uat}/content`) },
    ],
    refused: {
      does: 'edit the DEV draft (a developer’s job)',
      status: 403,
      run: (w) => w.me.call('PUT', `/api/environments/${w.dev}/content`, sampleContent()),
    },
  },
  {
    persona: 'business owner',
    who: 'business_owner',
    job: [
      {
        does: 'reviews and approves a Sync into UAT',
        run: async (w) => {
          await adminMoves(w, 'test');
          const req = await adminRequests(w, w.test, w.uat);
          await w.me.ok('GET', `/api/snapshots/${req.snapshotId}?project=${w.projectId}`);
          await w.me.ok(
            'GET',
            `/api/diff?from=env:${w.uat}&to=snapshot:${req.snapshotId}&project=${w.projectId}`,
          );
          await w.me.ok('POST', `/api/requests/${req.id}/approve`, {
            comment: 'Meets the requirements',
          });
          await adminMoves(w, 'uat');
        },
      },
      { does: 'reads UAT', run: (w) => w.me.ok('GET', `/api/environments/${w.uat}/content`) },
      {
        does: 'Syncs UAT → STAGING',
        run: (w) => w.me.ok('POST', `/api/environments/${w.uat}/sync`, {}),
      },
      {
        does: 'reads STAGING',
        run: (w) => w.me.ok('GET', `/api/environments/${w.staging}/content`),
      },
    ],
    refused: {
      does: 'read the DEV draft (no role in DEV)',
      status: 403,
      run: (w) => w.me.call('GET', `/api/environments/${w.dev}/content`),
    },
  },
  {
    persona: 'stakeholder',
    who: 'no account',
    job: [
      {
        does: 'reads UAT through a share link and leaves feedback',
        run: async (w) => {
          await adminMoves(w, 'uat');
          const link = await w.admin.ok<{ path: string }>(
            'POST',
            `/api/environments/${w.uat}/share-links`,
            { label: 'Board of directors', allowFeedback: true },
          );
          const view = await w.me.ok<{ content: unknown; environment: { name: string } }>(
            'GET',
            `/api${link.path}`,
          );
          expect(view.content).not.toBeNull();
          await w.me.ok('POST', `/api${link.path}/feedback`, {
            section: 'channels',
            itemId: 'ch_widget',
            author: 'Dana Director',
            text: 'The greeting reads well.',
          });
        },
      },
    ],
    refused: {
      does: 'read UAT without the link',
      status: 401,
      run: (w) => w.me.call('GET', `/api/environments/${w.uat}/content`),
    },
  },
  {
    persona: 'DevOps / final QA',
    who: 'devops',
    job: [
      {
        does: 'reads STAGING',
        run: async (w) => [
          await adminMoves(w, 'staging'),
          await w.me.ok('GET', `/api/environments/${w.staging}/content`),
        ],
      },
      {
        does: 'sets STAGING’s variable values and secrets',
        run: async (w) => [
          await w.me.ok('PUT', `/api/environments/${w.staging}/variables/company`, {
            value: 'Acme Staging',
          }),
          await w.me.ok('PUT', `/api/environments/${w.staging}/secrets/ORDERS_API_TOKEN`, {
            value: 'staging-token',
          }),
        ],
      },
      {
        does: 'Syncs STAGING → PRODUCTION',
        run: async (w) => {
          for (const s of SECRETS)
            await w.admin.ok('PUT', `/api/environments/${w.prod}/secrets/${s}`, { value: 'prod' });
          await w.me.ok('POST', `/api/environments/${w.staging}/sync`, {});
        },
      },
      {
        does: 'approves a Publish',
        run: async (w) => {
          const req = await adminRequests(w, w.prod, w.prod);
          await w.me.ok('POST', `/api/requests/${req.id}/approve`, {});
        },
      },
    ],
    refused: {
      does: 'Publish (the release manager’s call)',
      status: 403,
      run: (w) => w.me.call('POST', `/api/environments/${w.prod}/publish`, {}),
    },
  },
  {
    persona: 'release manager',
    who: 'release_manager',
    job: [
      {
        does: 'sets PRODUCTION’s secrets',
        run: async (w) =>
          Promise.all(
            SECRETS.map((s) =>
              w.me.ok('PUT', `/api/environments/${w.prod}/secrets/${s}`, { value: 'prod' }),
            ),
          ),
      },
      {
        does: 'Syncs STAGING → PRODUCTION',
        run: async (w) => [
          await adminMoves(w, 'staging'),
          await w.me.ok('POST', `/api/environments/${w.staging}/sync`, {}),
        ],
      },
      {
        does: 'Publishes',
        run: (w) =>
          w.me.ok('POST', `/api/environments/${w.prod}/publish`, { message: 'release-1' }),
      },
      {
        does: 'Publishes release-2, then rolls back to release-1',
        run: async (w) => {
          const release1 = await liveOf(w);
          await adminEditsDev(w, '35');
          await adminMoves(w, 'staging');
          await w.me.ok('POST', `/api/environments/${w.staging}/sync`, {});
          await w.me.ok('POST', `/api/environments/${w.prod}/publish`, { message: 'release-2' });
          await w.me.ok('POST', `/api/environments/${w.prod}/rollback`, {
            snapshotId: release1,
            pointer: 'live',
            message: 'release-2 broke refunds',
          });
          expect(await liveOf(w)).toBe(release1);
        },
      },
      {
        does: 'starts, edits and publishes a hotfix',
        run: async (w) => {
          const { draftId } = await w.me.ok<{ draftId: string }>(
            'POST',
            `/api/environments/${w.prod}/hotfix`,
          );
          await type(w, w.token, draftId, 'URGENT: store closed today. ');
          await w.me.ok('POST', `/api/environments/${w.prod}/hotfix/publish`, {
            message: 'store closed',
          });
        },
      },
    ],
    refused: {
      does: 'Sync UAT → STAGING (the business owner’s job)',
      status: 403,
      run: (w) => w.me.call('POST', `/api/environments/${w.uat}/sync`, {}),
    },
  },
  {
    persona: 'release manager, three stages',
    who: 'release_manager',
    preset: 'three-stage',
    job: [
      {
        does: 'sets Production’s secrets',
        run: async (w) =>
          Promise.all(
            SECRETS.map((s) =>
              w.me.ok('PUT', `/api/environments/${w.stages[2]}/secrets/${s}`, { value: 'prod' }),
            ),
          ),
      },
      {
        does: 'Syncs UAT → Production',
        run: async (w) => [
          await w.admin.ok('POST', `/api/environments/${w.stages[0]}/sync`, {}),
          await w.me.ok('POST', `/api/environments/${w.stages[1]}/sync`, {}),
        ],
      },
      {
        does: 'Publishes',
        run: (w) =>
          w.me.ok('POST', `/api/environments/${w.stages[2]}/publish`, { message: 'go-live' }),
      },
    ],
    refused: {
      does: 'edit the Staging draft (a builder’s job)',
      status: 403,
      run: (w) => w.me.call('PUT', `/api/environments/${w.stages[0]}/content`, sampleContent()),
    },
  },
  {
    persona: 'admin',
    who: 'admin',
    job: [
      {
        does: 'invites a member with a template',
        run: (w) =>
          w.me.ok('POST', '/api/invitations', {
            email: 'new@example.com',
            name: 'New Person',
            projectId: w.projectId,
            template: 'qa',
          }),
      },
      {
        does: 'sets a gate',
        run: (w) =>
          w.me.ok('PUT', `/api/environments/${w.uat}/gate`, {
            requiredApprovals: 0,
            allowSelfApproval: false,
          }),
      },
      { does: 'takes a release live', run: (w) => adminMoves(w, 'live') },
      {
        does: 'shares UAT',
        run: (w) =>
          w.me.ok('POST', `/api/environments/${w.uat}/share-links`, { label: 'Stakeholders' }),
      },
      {
        does: 'starts and discards a hotfix',
        run: async (w) => [
          await w.me.ok('POST', `/api/environments/${w.prod}/hotfix`),
          await w.me.ok('DELETE', `/api/environments/${w.prod}/hotfix`),
        ],
      },
    ],
    refused: {
      does: 'edit TEST (read-only for everyone)',
      status: 409,
      run: (w) => w.me.call('PUT', `/api/environments/${w.test}/content`, sampleContent()),
    },
  },
];

describe('REL-9 each persona does its whole job with its template alone', () => {
  for (const p of PERSONAS) {
    it(
      `REL-9 ${p.persona} (${p.who === 'admin' || p.who === 'no account' ? p.who : `template ${p.who}`}): ${p.job.map((s) => s.does).join('; ')}; may not ${p.refused.does}`,
      { timeout: 60_000 },
      async () => {
        const w = await world(p.who, p.preset);
        for (const s of p.job) await s.run(w);
        const { status, body } = await p.refused.run(w);
        expect(status, `${p.persona} must not ${p.refused.does}: ${JSON.stringify(body)}`).toBe(
          p.refused.status,
        );
        // A refusal reaches people as is: in words, naming who grants the role, never a permission id.
        if (status === 403)
          expect((body as { error: { message: string } }).error.message).toMatch(
            /^You may not [^()]+\. Ask a project admin \(Ada\) for /,
          );
      },
    );
  }
});
