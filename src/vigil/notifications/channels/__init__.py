"""The notification channels, one module each, and the one registry that finds them by name.

Each module here is a channel: it keeps ``OutboxChannel`` or ``ImmediateChannel`` (see
``vigil.notifications.channel``), which mypy checks where ``_ALL`` lists it. Adding a channel
is a module here, its name in ``ChannelName``, its place in ``_ALL``, and its settings.
"""

from __future__ import annotations

from vigil.core.registry import one_each
from vigil.notifications.channel import (
    AnyChannel,
    ChannelName,
    ChannelSettings,
    Delivery,
    OutboxChannel,
)
from vigil.notifications.channels import email, in_app, slack

_ALL: tuple[AnyChannel, ...] = (email, slack, in_app)

CHANNELS: dict[ChannelName, AnyChannel] = one_each(
    ChannelName, ((channel.name, channel) for channel in _ALL), what="notification channel"
)


def enabled_channels(chosen: ChannelSettings) -> list[ChannelName]:
    """The channels the tenant's settings turn on, in ``ChannelName`` order."""
    return [name for name in ChannelName if CHANNELS[name].is_on(chosen)]


def outbox_channel(name: ChannelName) -> OutboxChannel:
    """The channel that sends what the outbox holds under ``name``."""
    channel = CHANNELS[name]
    if channel.delivery is not Delivery.OUTBOX:
        raise LookupError(f"{name} is not delivered through the outbox")
    return channel
