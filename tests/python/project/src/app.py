"""The test program: imports the project and prints what it sees."""
import json
import sys

import mypkg
import mypkg.tool
import versioned
from mypkg import consts
from mypkg.sub import helpers, data_user
from nspkg.inner import mod


def report():
    out = {
        "answer": versioned.answer(),
        "keys": helpers.keys(),
        "gen": list(helpers.gen(4)),
        "closure": helpers.make_closure(10)(5),
        "member": [consts.is_member("beta"), consts.is_member("zeta")],
        "number": [consts.is_number(2), consts.is_number(9)],
        "truth": consts.empty_truth(50),
        "ids": consts.identities(),
        "resource": data_user.read(),
        "ns": mod.VALUE,
        "version": list(mypkg.VERSION),
        "thing": helpers.Thing().double,
    }
    return out


if __name__ == "__main__":
    print(json.dumps(report(), sort_keys=True))
