/*
 * enrich: geo objects for host records that lack one (see enrich.h).
 *
 * The record is a jsonr tree owned by the reader; the geo member is built in
 * storage owned here (one record at a time) and linked after the record's
 * last member, then unlinked when the callback returns, so the reader's
 * blocks are never written beyond that one next pointer and length.
 */
#include "enrich.h"

#include <stdio.h>
#include <string.h>

int enrich_init(struct enrich *en, const char *geoip, const char *asn_db, char *err, size_t errlen)
{
	memset(en, 0, sizeof(*en));
	en->geo = geo_open(geoip, asn_db, err, errlen);
	return en->geo ? 0 : -1;
}

static void enrich_member(struct jr_val *v, const char *key, enum jr_type type)
{
	memset(v, 0, sizeof(*v));
	v->type = type;
	v->key = key;
	v->klen = (uint32_t)strlen(key);
}

void enrich_attach(struct enrich *en, struct jr_val *rec)
{
	struct jr_val *last = NULL, **link;
	const char *ip;
	size_t n = 0;

	en->attached_after = NULL;
	en->rec = NULL;
	if (!rec || rec->type != JR_OBJECT || !jr_streq(jr_get(rec, "type"), "host") || jr_get(rec, "geo"))
		return;
	ip = jr_str(jr_get(rec, "ip"));
	if (!ip)
		return;
	geo_lookup(en->geo, ip, &en->gi);
	enrich_member(&en->obj, "geo", JR_OBJECT);
	link = &en->obj.child;
	if (en->gi.country[0]) {
		enrich_member(&en->m[n], "country", JR_STRING);
		en->m[n].s = en->gi.country;
		en->m[n].len = (uint32_t)strlen(en->gi.country);
		*link = &en->m[n];
		link = &en->m[n++].next;
	}
	if (en->gi.asn) {
		enrich_member(&en->m[n], "asn", JR_NUMBER);
		snprintf(en->asn_text, sizeof(en->asn_text), "%u", en->gi.asn);
		en->m[n].s = en->asn_text;
		en->m[n].len = (uint32_t)strlen(en->asn_text);
		en->m[n].is_int = 1;
		en->m[n].i = en->gi.asn;
		en->m[n].d = en->gi.asn;
		*link = &en->m[n];
		link = &en->m[n++].next;
		if (en->gi.as_org[0]) {
			enrich_member(&en->m[n], "as_org", JR_STRING);
			en->m[n].s = en->gi.as_org;
			en->m[n].len = (uint32_t)strlen(en->gi.as_org);
			*link = &en->m[n];
			n++;
		}
	}
	en->obj.len = (uint32_t)n;
	for (last = rec->child; last && last->next; last = last->next)
		;
	if (last)
		last->next = &en->obj;
	else
		rec->child = &en->obj;
	rec->len++;
	en->attached_after = last;
	en->rec = rec;
}

void enrich_detach(struct enrich *en)
{
	if (!en->rec)
		return;
	if (en->attached_after)
		en->attached_after->next = NULL;
	else
		en->rec->child = NULL;
	en->rec->len--;
	en->rec = NULL;
	en->attached_after = NULL;
}

void enrich_free(struct enrich *en)
{
	geo_free(en->geo);
	en->geo = NULL;
}
