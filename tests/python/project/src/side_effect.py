import os
open(os.environ["SIDE_EFFECT_FILE"], "a").write("executed\n")
