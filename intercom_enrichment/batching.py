"""Split a window's conversations into batches such that each distinct contact is fetched once.

Distinct contact ids (primary contacts first, in conversation order, then contacts that are only
ever secondary) are cut into chunks of 150, the ``IN`` size of one bulk contact search. A batch
owns a run of whole chunks and every conversation whose primary contact is in them, so bulk
lookups stay at ⌈contacts ÷ 150⌉ calls and no contact is looked up by two batches.
"""

import math
from dataclasses import dataclass

from .models import Conversation
from .settings import CONTACT_SEARCH_MAX_IDS


@dataclass(frozen=True)
class ConversationBatch:
    index: int
    conversations: list[Conversation]
    contact_ids: list[str]  # the contacts this batch looks up


def distinct_contact_ids(conversations: list[Conversation]) -> list[str]:
    primary = dict.fromkeys(c.contact_ids[0] for c in conversations if c.contact_ids)
    secondary = dict.fromkeys(
        i for c in conversations for i in c.contact_ids[1:] if i not in primary
    )
    return [*primary, *secondary]


def plan_batches(conversations: list[Conversation], *, batch_size: int) -> list[ConversationBatch]:
    """Batches of about ``batch_size`` conversations, aligned to whole contact chunks."""
    if not conversations:
        return []
    ids = distinct_contact_ids(conversations)
    contacts_per_conversation = len(ids) / len(conversations)
    chunks_per_batch = max(
        1, round(batch_size * contacts_per_conversation / CONTACT_SEARCH_MAX_IDS)
    )
    per_batch = chunks_per_batch * CONTACT_SEARCH_MAX_IDS
    n_batches = max(1, math.ceil(len(ids) / per_batch))
    owner = {cid: pos // per_batch for pos, cid in enumerate(ids)}
    convs: list[list[Conversation]] = [[] for _ in range(n_batches)]
    orphans = 0
    for conv in conversations:
        if conv.contact_ids:
            convs[owner[conv.contact_ids[0]]].append(conv)
        else:  # no contact: spread evenly, nothing to look up
            convs[orphans % n_batches].append(conv)
            orphans += 1
    return [
        ConversationBatch(i, convs[i], ids[i * per_batch : (i + 1) * per_batch])
        for i in range(n_batches)
        if convs[i] or ids[i * per_batch : (i + 1) * per_batch]
    ]
