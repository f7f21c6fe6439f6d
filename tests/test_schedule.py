"""Schedules on a fake clock (every instant is passed in): weekdays, overnight windows, time
zones and DST, which schedule a zone gets, and the config errors that name the field."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from epatrol.config import ConfigError, parse_config
from epatrol.detectors.schedule import (
    Schedule,
    parse_clock,
    parse_days,
    window,
    zone_schedule,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")  # UTC+8, no DST
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST
NEW_YORK = ZoneInfo("America/New_York")


def _utc(local: datetime) -> datetime:
    return local.astimezone(timezone.utc)


def test_clock_and_day_parsing():
    assert parse_clock("07:30") == 450 and parse_clock("00:00") == 0 and parse_clock("23:59") == 1439
    assert parse_clock("24:00", allow_24=True) == 1440
    for bad in ("7:30", "24:00", "12:60", "noon", "07:30:00"):
        with pytest.raises(ValueError):
            parse_clock(bad)
    assert parse_days(["mon-fri"]) == frozenset(range(5))
    assert parse_days(["sat", "sun"]) == frozenset({5, 6})
    assert parse_days(["fri-mon"]) == frozenset({4, 5, 6, 0})  # a range may wrap the week
    assert parse_days(["mon-sun"]) == frozenset(range(7))
    with pytest.raises(ValueError, match="unknown day"):
        parse_days(["monday"])


def test_school_hours_on_weekdays_only():
    school = Schedule((window(["mon-fri"], "07:00", "17:30"),), SHANGHAI)
    monday = datetime(2026, 3, 2, tzinfo=SHANGHAI)  # a Monday
    assert monday.weekday() == 0
    assert not school.active(_utc(monday.replace(hour=6, minute=59)))
    assert school.active(_utc(monday.replace(hour=7)))  # the start is inside
    assert school.active(_utc(monday.replace(hour=17, minute=29, second=59)))
    assert not school.active(_utc(monday.replace(hour=17, minute=30)))  # the end is outside
    assert school.active(_utc((monday + timedelta(days=4)).replace(hour=12)))  # Friday
    assert not school.active(_utc((monday + timedelta(days=5)).replace(hour=12)))  # Saturday


def test_overnight_window_belongs_to_the_day_it_opens():
    # Friday and Saturday nights 22:00 to 06:00.
    nights = Schedule((window(["fri", "sat"], "22:00", "06:00"),), SHANGHAI)
    friday = datetime(2026, 3, 6, tzinfo=SHANGHAI)
    assert friday.weekday() == 4
    assert not nights.active(_utc(friday.replace(hour=21, minute=59)))
    assert nights.active(_utc(friday.replace(hour=23)))
    assert nights.active(_utc((friday + timedelta(days=1)).replace(hour=3)))  # Saturday morning: Friday's night
    assert not nights.active(_utc((friday + timedelta(days=1)).replace(hour=6)))
    assert nights.active(_utc((friday + timedelta(days=2)).replace(hour=5)))  # Sunday morning: Saturday's night
    assert not nights.active(_utc((friday + timedelta(days=2)).replace(hour=23)))  # Sunday night: not listed
    assert not nights.active(_utc(friday.replace(hour=3)))  # Friday morning belongs to Thursday night


def test_market_street_allowed_in_the_evening():
    # Vending is a violation all day except the evening market (17:00-21:00): one window 21:00 -> 17:00.
    rules = Schedule((window(["mon-sun"], "21:00", "17:00"),), SHANGHAI)
    day = datetime(2026, 3, 4, tzinfo=SHANGHAI)
    assert rules.active(_utc(day.replace(hour=10)))
    assert not rules.active(_utc(day.replace(hour=18)))
    assert rules.active(_utc(day.replace(hour=22)))
    assert rules.active(_utc(day.replace(hour=2)))


def test_the_same_instant_in_different_zones():
    morning = Schedule((window(["mon-sun"], "07:00", "08:00"),), SHANGHAI)
    instant = datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc)  # 07:30 in Shanghai, 00:30 in Berlin
    assert morning.active(instant)
    assert not Schedule(morning.windows, BERLIN).active(instant)
    with pytest.raises(ValueError, match="aware"):
        morning.active(datetime(2026, 3, 2, 7, 30))


def test_daylight_saving_follows_the_wall_clock():
    morning = Schedule((window(["mon-sun"], "07:00", "08:00"),), BERLIN)
    # 07:30 local is 06:30 UTC in winter (CET) and 05:30 UTC in summer (CEST).
    assert morning.active(datetime(2026, 1, 15, 6, 30, tzinfo=timezone.utc))
    assert not morning.active(datetime(2026, 1, 15, 5, 30, tzinfo=timezone.utc))
    assert morning.active(datetime(2026, 7, 15, 5, 30, tzinfo=timezone.utc))
    assert not morning.active(datetime(2026, 7, 15, 6, 30, tzinfo=timezone.utc))
    # New York springs forward on 2026-03-08: 02:00-03:00 local does not happen that night.
    night = Schedule((window(["sun"], "02:00", "03:00"),), NEW_YORK)
    gap = datetime(2026, 3, 8, 6, 0, tzinfo=timezone.utc)  # 01:00 EST -> at 07:00 UTC it is 03:00 EDT
    assert [night.active(gap + timedelta(minutes=m)) for m in range(0, 121, 30)] == [False] * 5
    # ... and falls back on 2026-11-01: 01:00-02:00 local happens twice, both are inside.
    repeat = Schedule((window(["sun"], "01:00", "02:00"),), NEW_YORK)
    first, second = datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc), datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)
    assert first.astimezone(NEW_YORK).hour == second.astimezone(NEW_YORK).hour == 1
    assert repeat.active(first) and repeat.active(second)


def _cfg(zone_extra=None, camera_extra=None, **top):
    zone = {"name": "gate", "polygon": [[0, 0], [1, 0], [1, 1]], "violations": ["parked_bikes"], **(zone_extra or {})}
    camera = {"id": "cam", "name": "cam", "url": "cam.mp4", "site": "school", "zones": [zone], **(camera_extra or {})}
    return {"cameras": [camera], **top}


def test_zone_schedule_zone_first_then_site_default_then_always():
    sites = {"school": {"parked_bikes": [{"days": ["mon-fri"], "start": "07:00", "end": "17:00"}]}}
    monday_noon = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai
    monday_night = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)  # 22:00 in Shanghai

    cfg = parse_config(_cfg(camera_extra={"timezone": "Asia/Shanghai"}, sites=sites))
    site_default = zone_schedule(cfg.cameras[0], "gate", "parked_bikes", cfg.sites, cfg.review.timezone)
    assert site_default.active(monday_noon) and not site_default.active(monday_night)
    assert zone_schedule(cfg.cameras[0], "gate", "open_burning", cfg.sites) is None  # no default for it: always

    own = {"schedule": [{"start": "20:00", "end": "24:00"}]}
    cfg = parse_config(_cfg(zone_extra=own, camera_extra={"timezone": "Asia/Shanghai"}, sites=sites))
    zone_own = zone_schedule(cfg.cameras[0], "gate", "parked_bikes", cfg.sites, cfg.review.timezone)
    assert zone_own.active(monday_night) and not zone_own.active(monday_noon)

    # No camera time zone: review.timezone is the local zone.
    cfg = parse_config(_cfg(sites=sites, review={"timezone": "Europe/Berlin"}))
    berlin = zone_schedule(cfg.cameras[0], "gate", "parked_bikes", cfg.sites, cfg.review.timezone)
    assert berlin.tz == BERLIN and not berlin.active(datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc))  # 06:00 CET


@pytest.mark.parametrize(
    ("zone_extra", "camera_extra", "top", "field", "message"),
    [
        ({"schedule": [{"start": "7:00", "end": "17:00"}]}, {}, {}, "cameras.0.zones.0.schedule.0.start", "HH:MM"),
        ({"schedule": [{"start": "07:00", "end": "24:30"}]}, {}, {}, "cameras.0.zones.0.schedule.0.end", "not a time of day"),
        ({"schedule": [{"days": ["mon-fry"], "start": "07:00", "end": "08:00"}]}, {}, {}, "cameras.0.zones.0.schedule.0.days", "unknown day"),
        ({"schedule": [{"start": "07:00", "end": "07:00"}]}, {}, {}, "cameras.0.zones.0.schedule.0", "empty window"),
        ({"schedule": []}, {}, {}, "cameras.0.zones.0.schedule", "at least 1"),
        ({"schedule": [{"start": "07:00"}]}, {}, {}, "cameras.0.zones.0.schedule.0.end", "required"),
        ({}, {"timezone": "Mars/Olympus"}, {}, "cameras.0.timezone", "unknown time zone"),
        ({}, {}, {"sites": {"scool": {}}}, "sites.scool", "school"),
        ({}, {}, {"sites": {"school": {"parking": []}}}, "sites.school.parking", "not permitted"),
        ({}, {}, {"sites": {"school": {"parked_bikes": [{"start": "25:00", "end": "08:00"}]}}}, "sites.school.parked_bikes.0.start", "not a time"),
        ({}, {}, {"violations": {"parked_bikes": {"cooldown_s": -5}}}, "violations.parked_bikes.cooldown_s", "greater than or equal"),
        ({}, {}, {"violations": {"open_burning": {"suppress_iou": 1.5}}}, "violations.open_burning.suppress_iou", "less than or equal"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(zone_extra, camera_extra, top, field, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_cfg(zone_extra, camera_extra, **top), "rules.yaml")
    text = str(err.value)
    line = next((ln for ln in text.splitlines() if ln.strip().startswith(field)), None)
    assert line is not None, text
    assert message in line, text
