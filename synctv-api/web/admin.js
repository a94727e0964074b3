// What owners and admins see on top of the room: the settings form, per-member role,
// remove and ban, per-movie remove, and deleting the room. Which controls appear follows the
// server's rules (src/service/admin.rs) so nobody is offered a button that can only be refused; the
// server still decides, and its refusal is shown in words.

import * as api from "./api.js";

const $ = (id) => document.getElementById(id);
const RANK = { guest: 0, member: 1, admin: 2, owner: 3 };

// The signed-in user's role in this room, from the snapshot (they are online, so listed).
export function myRole(state) {
  const me = api.session();
  if (!me || !state) return "guest";
  if (state.owner_id === me.user_id) return "owner";
  const m = state.members.find((x) => x.user_id === me.user_id);
  return m ? m.role : "guest";
}

const atLeast = (role, least) => RANK[role] >= RANK[least];

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

export class Admin {
  // ctx: { room() -> {room_id, password}, setPassword(p), say(text, isError), describe(err) }
  constructor(ctx) {
    this.ctx = ctx;
    this.dirty = false; // the settings form holds edits not saved yet
    const form = $("settings-form");
    form.addEventListener("input", () => { this.dirty = true; });
    form.addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    $("set-nopass").addEventListener("change", () => {
      $("set-pass").disabled = $("set-nopass").checked;
    });
    $("delete-room").addEventListener("click", () => this.confirmDelete(true));
    $("delete-cancel").addEventListener("click", () => this.confirmDelete(false));
    $("delete-confirm").addEventListener("click", () => this.deleteRoom());
  }

  async run(what, call) {
    try {
      const r = await call();
      this.ctx.say(what);
      return r;
    } catch (err) {
      this.ctx.say(this.ctx.describe(err), true);
      return undefined;
    }
  }

  // Show the panel to admins and fill it from the room, unless the user is editing it.
  render(state) {
    const role = myRole(state);
    $("admin").hidden = !atLeast(role, "admin");
    if (this.dirty || !state.settings) return;
    const s = state.settings;
    $("set-name").value = state.name;
    $("set-pass").value = "";
    $("set-pass").disabled = false;
    $("set-nopass").checked = false;
    $("set-nopass").parentElement.hidden = !state.has_password;
    $("set-hidden").checked = !!s.hidden;
    $("set-guests").checked = !!s.guests_allowed;
    $("set-chat").value = s.chat_role;
    $("set-playback").value = s.playback_role;
    $("set-playlist").value = s.playlist_role;
  }

  async save() {
    const { room_id } = this.ctx.room();
    const patch = {
      name: $("set-name").value.trim(),
      settings: {
        hidden: $("set-hidden").checked,
        guests_allowed: $("set-guests").checked,
        chat_role: $("set-chat").value,
        playback_role: $("set-playback").value,
        playlist_role: $("set-playlist").value,
      },
    };
    const pass = $("set-pass").value;
    if ($("set-nopass").checked) patch.password = null;
    else if (pass) patch.password = pass;
    const room = await this.run("Settings saved.", () => api.updateRoom(room_id, patch));
    if (room === undefined) return;
    // The room_updated event refills the form; a new password is ours to use from now on.
    this.dirty = false;
    if (patch.password !== undefined) this.ctx.setPassword(patch.password || "");
  }

  confirmDelete(asking) {
    $("delete-room").hidden = asking;
    $("delete-confirm").hidden = !asking;
    $("delete-cancel").hidden = !asking;
    (asking ? $("delete-confirm") : $("delete-room")).focus();
  }

  async deleteRoom() {
    this.confirmDelete(false);
    await this.run("Room deleted.", () => api.deleteRoom(this.ctx.room().room_id));
  }

  // Role select, remove and ban for one member, when this user may manage them: admins
  // manage members and guests, only the owner manages admins, nobody manages the owner.
  memberControls(li, m, state) {
    const role = myRole(state);
    const me = api.session();
    const target = m.user_id === state.owner_id ? "owner" : m.role;
    if (!atLeast(role, "admin") || (me && m.user_id === me.user_id) || target === "owner") return;
    if (target === "admin" && role !== "owner") return;
    const { room_id } = this.ctx.room();
    const box = document.createElement("span");
    box.className = "member-admin";
    if (target !== "guest") {
      const sel = document.createElement("select");
      sel.setAttribute("aria-label", `Role of ${m.username}`);
      for (const r of role === "owner" ? ["member", "admin"] : ["member"]) {
        const o = document.createElement("option");
        o.value = r;
        o.textContent = r;
        sel.append(o);
      }
      sel.value = target;
      sel.addEventListener("change", () =>
        this.run(`${m.username} is now ${sel.value}.`,
          () => api.updateMember(room_id, m.user_id, { role: sel.value })));
      box.append(sel);
    }
    box.append(
      button("Remove", `Remove ${m.username} from the room`, () =>
        this.run(`${m.username} was removed.`, () => api.removeMember(room_id, m.user_id, false))),
      button("Ban", `Ban ${m.username} from the room`, () =>
        this.run(`${m.username} was banned.`, () => api.removeMember(room_id, m.user_id, true))),
    );
    li.append(box);
  }

  // A remove button for a playlist entry, for those who may edit the playlist.
  movieControls(li, movie, state) {
    const least = (state.settings && state.settings.playlist_role) || "member";
    if (!atLeast(myRole(state), least)) return;
    const { room_id, password } = this.ctx.room();
    li.append(button("Remove", `Remove ${movie.title} from the playlist`, () =>
      this.run(`Removed “${movie.title}”.`, () => api.removeMovie(room_id, movie.movie_id, password))));
  }
}
