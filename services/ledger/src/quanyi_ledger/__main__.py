from quanyi_ledger.bootstrap import main

main()
