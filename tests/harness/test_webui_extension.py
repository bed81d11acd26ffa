"""The Rate limits tab joins Locust's extension lists beside another plugin's entries, never
instead of them."""

from __future__ import annotations

import argparse

from locust.env import Environment

from mmload.harness import webui
from mmload.options import add_arguments


def test_another_plugins_tab_stays_and_ours_is_there_once() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, locust=False)
    options = parser.parse_args([])
    options.web_login, options.web_base_path = False, ""
    env = Environment(user_classes=[], parsed_options=options)
    ui = env.create_web_ui("127.0.0.1", 0)  # not started: nothing listens
    ui.template_args["extended_tabs"] = [{"title": "Other", "key": "other"}]
    webui.register(env)
    assert [t["key"] for t in ui.template_args["extended_tabs"]] == ["other", webui.TAB]
    assert [t["key"] for t in ui.template_args["extended_tables"]] == [webui.TAB]


def test_mmloads_options_are_not_offered_in_the_start_form() -> None:
    """Read once, checked and written to run.json at init: an edit in Locust's form would reach
    the users but not the collector or the verdict."""
    from locust.argument_parser import get_parser, ui_extra_args_dict

    from mmload.harness import plugin

    plugin.install()
    parser = get_parser()
    shown = ui_extra_args_dict(["-f", "locustfiles/hammer.py"]) if parser else {}
    assert not any(name in shown for name in ("documented_limit", "accounts", "api"))
