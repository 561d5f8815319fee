"""The one-pass forgetting of packed ids (``keystate._kept``, what ``admit_id`` runs when
a window's latest day moves on) keeps exactly what :meth:`Window.forget_before` keeps, in
the same order, with the same earliest day."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.kpi.keystate import PACKED_MAX, RECORD, Window, _kept, day_bytes

records = st.lists(
    st.tuples(
        st.binary(min_size=8, max_size=8),
        st.one_of(
            st.integers(-3, 3), st.integers(20_000, 20_012), st.integers(-(2**31), 2**31 - 1)
        ),
    ),
    max_size=PACKED_MAX,
)


@settings(max_examples=500, deadline=None)
@given(ids=records, cutoff=st.one_of(st.integers(-4, 4), st.integers(19_999, 20_013)))
def test_kept_is_forget_before(ids: list[tuple[bytes, int]], cutoff: int) -> None:
    packed = b"".join(h + day_bytes(d) for h, d in ids)
    latest = max((d for _, d in ids), default=cutoff)
    window = Window(latest, packed, -(2**31))  # an oldest day before any cutoff: it forgets
    window.forget_before(cutoff)
    kept, oldest = _kept(packed, cutoff, latest)
    assert kept == window.ids
    assert oldest == window.oldest
    assert len(kept) % RECORD == 0


def test_nothing_dropped_returns_the_same_bytes() -> None:
    packed = b"a" * 8 + day_bytes(5) + b"b" * 8 + day_bytes(7)
    assert _kept(packed, 5, 7) == (packed, 5)
    assert _kept(packed, 6, 7) == (b"b" * 8 + day_bytes(7), 7)
    assert _kept(packed, 8, 7) == (b"", 7)
