// A LeadershipNode over a plain member map, for tests that drive leadership
// through member events by hand: it sends no user messages and holds no evidence.
import type { MemberSnapshot } from '../../src/core/member-types.js';
import type { LeadershipNode } from '../../src/partition/leadership.js';

export function viewNode(view: Map<string, MemberSnapshot>, name = 'm0'): LeadershipNode {
  return {
    name,
    members: () => [...view.values()],
    member: (n) => view.get(n),
    onUserMessage: () => () => {},
    sendUserMessage: () => true,
    userMessageBudgetBytes: () => 1200,
    evidenceOf: () => [],
    mergeEvidence: () => {},
  };
}
