from iam_foundry.cli.app import main

main()
