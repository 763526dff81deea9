from quanyi_risk.bootstrap import main

main()
