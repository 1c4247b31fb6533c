/**
 * Bytes each user's sockets have sent of frames not finished yet (SEC-8). ws keeps a
 * frame's bytes until its last one arrives, up to the frame limit: a viewer's 100 sockets each
 * sending all but the last byte of a 16 MiB frame made the server hold 1.6 GB, per account.
 * Counted from the socket's reads and zeroed when a message completes;
 * a socket whose user holds more than the bound is dropped, and its bytes freed with it.
 */
export class UnfinishedFrames {
  private readonly maxPerUser: number;
  private readonly perUser = new Map<string, number>();

  constructor(maxPerUser: number) {
    this.maxPerUser = maxPerUser;
  }

  /** One connection of `userId`: `received` says false once the user is over the bound. */
  track(userId: string): { received(bytes: number): boolean; finished(): void } {
    let mine = 0;
    const finished = () => {
      if (mine === 0) return;
      const left = (this.perUser.get(userId) ?? mine) - mine;
      if (left > 0) this.perUser.set(userId, left);
      else this.perUser.delete(userId);
      mine = 0;
    };
    return {
      received: (bytes) => {
        mine += bytes;
        const total = (this.perUser.get(userId) ?? 0) + bytes;
        this.perUser.set(userId, total);
        return total <= this.maxPerUser;
      },
      finished,
    };
  }
}
