from quanyi_fulfillment.bootstrap import main

main()
