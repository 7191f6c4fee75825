/** Payloads built from the stand-in's state: roles, members, GUILD_CREATE, application flags. */
import { clone, type Dict, type Guild, iso } from './state.js';

export function makeRole(id: string, name: string, permissions: bigint, position: number, extra: Dict = {}): Dict {
  return {
    id,
    name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position,
    permissions: permissions.toString(),
    managed: false,
    mentionable: false,
    flags: 0,
    ...extra,
  };
}

export function makeMember(user: Dict, roles: string[], joinedAt: number): Dict {
  return {
    user,
    nick: null,
    avatar: null,
    banner: null,
    roles,
    joined_at: iso(joinedAt),
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
    unusual_dm_activity_until: null,
  };
}

/** GUILD_CREATE as Discord sends it to a bot without the GuildMembers intent */
export function guildCreatePayload(g: Guild, botUserId: string, systemChannelId: string): Dict {
  const channels = [...g.channels.values()].map((c) => {
    const { guild_id: _g, ...rest } = c;
    return clone(rest);
  });
  return {
    id: g.id,
    name: g.name,
    icon: null,
    icon_hash: null,
    splash: null,
    discovery_splash: null,
    owner_id: g.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    widget_enabled: false,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: clone([...g.roles.values()]),
    emojis: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: systemChannelId,
    system_channel_flags: 0,
    rules_channel_id: null,
    max_members: 500000,
    max_video_channel_users: 25,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: g.locale,
    public_updates_channel_id: null,
    nsfw_level: 0,
    nsfw: false,
    stickers: [],
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
    incidents_data: null,
    joined_at: iso(g.joinedAt),
    large: false,
    unavailable: false,
    member_count: g.members.size,
    voice_states: [],
    // without the GuildMembers intent Discord only sends the bot's own member
    members: clone([...g.members.values()].filter((m) => m.user.id === botUserId)),
    channels,
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    lazy: true,
  };
}

/** the application flags that say which privileged intents it is approved for */
export function applicationFlags(privilegedIntents: number): number {
  let flags = 0;
  if (privilegedIntents & (1 << 8)) flags |= 1 << 13;
  if (privilegedIntents & (1 << 1)) flags |= 1 << 15;
  if (privilegedIntents & (1 << 15)) flags |= 1 << 19;
  return flags;
}
