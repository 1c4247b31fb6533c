/**
 * A person's inbox (`GET /api/notifications`, `POST /api/notifications/read`): what asks for
 * them, in words, with the place to act.
 */
export const NOTIFICATION_KINDS = [
  /** An approval of a move into a stage they approve for is requested (not by them). */
  'approval_requested',
  /** Their request was approved or rejected. */
  'request_decided',
  /** A hotfix was published in production: its changes wait to be brought to the authoring stage. */
  'hotfix_to_port',
  /** A stakeholder left feedback through a share link of a stage they manage. */
  'feedback',
  /** Replication met a change made on both sides in a stage they edit. */
  'conflict',
  /** Someone they invited accepted. */
  'invitation_accepted',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface NotificationView {
  /** Increasing: newer notifications have larger ids (`?before=<id>` pages older). */
  id: number;
  kind: NotificationKind;
  read: boolean;
  /** ISO time. */
  createdAt: string;
  projectId: string;
  environmentId: string | null;
  /** In words: stage and people's names, never ids. */
  title: string;
  /** The page to act on it (a path of the web app). */
  href: string;
  /** For `approval_requested`: the request, so the inbox can offer to approve it where it is. */
  requestId?: string;
}

/** GET /api/notifications: the caller's, newest first (at most 100), and how many are unread. */
export interface NotificationsView {
  notifications: NotificationView[];
  unread: number;
}

/** POST /api/notifications/read. */
export interface NotificationsRead {
  unread: number;
}
